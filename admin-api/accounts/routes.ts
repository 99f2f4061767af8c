import { DomainError } from '../../engine/errors';
import type { Ledger } from '../../engine/ledger';
import type { Statements } from '../../engine/ledger/statement';
import type { RouteModule } from '../app';
import { hasScope, type Principal } from '../auth';
import { accountPageSchema, accountSchema, accountsQuerySchema, entriesQuerySchema, entryPageSchema, entrySchema, ownerParamsSchema, patchPolicyBodySchema, postEntryBodySchema, unitQuerySchema } from './schemas';
import { inClientTerms, storedApiKey } from './idempotency-keys';
import { STATEMENT_COLUMNS, writeCsvStatement } from './statement-csv';
import { accountView, entryView } from './views';

const TAGS = ['Accounts'];

/** `adminOverride` skips the credit rules an admin set: only a key with the admin scope may ask for it. */
export function assertOverrideAllowed(adminOverride: boolean, principal: Principal | undefined): void {
  if (adminOverride && !hasScope(principal, 'admin')) {
    throw new DomainError('admin_override_forbidden', 'forbidden', 'adminOverride needs an API key with the admin scope.', [{ path: 'adminOverride', message: 'needs the admin scope' }]);
  }
}

function notFound(ownerId: string, unit: string): DomainError {
  return new DomainError('account_not_found', 'not_found', `No ${unit} account for owner "${ownerId}".`);
}

/**
 * Accounts and ledger routes (contract: api-v1.md, "Accounts and ledger").
 * `defaultUnit` applies where the unit is optional (reads and policy).
 */
export function accountRoutes(deps: { ledger: Ledger; statements: Statements; defaultUnit: string }): RouteModule {
  const { ledger, statements, defaultUnit } = deps;
  return (routes) => {
    routes.add({
      method: 'get', path: '/v1/accounts', scope: 'accounts:read', tags: TAGS,
      summary: 'List accounts',
      description: 'Accounts in key order, filtered by owner, unit and balance range. The balance filter reads the stored balance, which can trail the newest postings briefly; each returned account shows its exact balance.',
      query: accountsQuerySchema,
      responses: { 200: { description: 'One page of accounts.', schema: accountPageSchema } },
      handler: async ({ query }) => {
        const { limit, cursor, ...filter } = query;
        const page = await ledger.listAccounts(filter, { limit, ...(cursor ? { cursor } : {}) });
        return { status: 200, body: { items: page.items.map(accountView), nextCursor: page.nextCursor } };
      },
    });

    routes.add({
      method: 'get', path: '/v1/accounts/:ownerId', scope: 'accounts:read', ownerParam: 'ownerId', tags: TAGS,
      summary: 'Get an account',
      params: ownerParamsSchema, query: unitQuerySchema,
      responses: { 200: { description: 'The account.', schema: accountSchema }, 404: { description: 'No such account.' } },
      handler: async ({ params, query }) => {
        const unit = query.unit ?? defaultUnit;
        const account = await ledger.getAccount(params.ownerId, unit);
        if (!account) throw notFound(params.ownerId, unit);
        return { status: 200, body: accountView(account) };
      },
    });

    routes.add({
      method: 'patch', path: '/v1/accounts/:ownerId', scope: 'accounts:write', tags: TAGS,
      summary: "Set an account's policy",
      description: 'minBalance (negative allows debt down to it), maxNegativeDays, maxBalance and minCredit; null returns a field to the customer group\'s value or the unit default. Postings already past their policy check finish under the old policy. The answer shows the policy in force and, in policySources, which layer (account, group, default) set each value.',
      params: ownerParamsSchema, query: unitQuerySchema, body: patchPolicyBodySchema,
      responses: { 200: { description: 'The account with its new policy.', schema: accountSchema }, 404: { description: 'No such account (and createIfMissing is false).' } },
      handler: async ({ params, query, body }) => {
        const account = await ledger.setPolicy(params.ownerId, query.unit ?? defaultUnit, body);
        return { status: 200, body: accountView(account) };
      },
    });

    routes.add({
      method: 'get', path: '/v1/accounts/:ownerId/entries', scope: 'accounts:read', ownerParam: 'ownerId', tags: TAGS,
      summary: "List an account's entries, newest first, or its statement as CSV",
      description: `Pass nextCursor as cursor for the next page; entries posted meanwhile never shift later pages. \`from\` (inclusive) and \`to\` (exclusive) select entries by the time they were posted. With \`Accept: text/csv\` the answer is the statement of that range (all of it, no paging), oldest first, with columns ${STATEMENT_COLUMNS.join(', ')} (\`balance\` is the running balance after each entry), streamed as it is read.`,
      params: ownerParamsSchema, query: entriesQuerySchema,
      responses: { 200: { description: 'One page of entries (JSON), or the statement (text/csv).', schema: entryPageSchema, alternatives: { 'text/csv': 'The statement: a header row, then one row per entry, oldest first.' } }, 404: { description: 'No such account.' } },
      handler: async ({ params, query, req, res }) => {
        const unit = query.unit ?? defaultUnit;
        const range = { from: query.from ? new Date(query.from) : undefined, to: query.to ? new Date(query.to) : undefined };
        if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
          const { account, first, last } = await statements.seqRange(params.ownerId, unit, range);
          await writeCsvStatement(res, statements, account, { first, last }, range);
          return { status: 200 };
        }
        const page = range.from || range.to
          ? await statements.page(params.ownerId, unit, range, { limit: query.limit, cursor: query.cursor })
          : await ledger.listEntries(params.ownerId, unit, { limit: query.limit, ...(query.cursor ? { cursor: query.cursor } : {}) });
        return { status: 200, body: { items: page.items.map(entryView), nextCursor: page.nextCursor } };
      },
    });

    routes.add({
      method: 'post', path: '/v1/accounts/:ownerId/entries', scope: 'accounts:write', tags: TAGS,
      summary: 'Credit or debit an account (admin adjustment)',
      description: 'Exactly once per idempotencyKey: the same key and body again returns the original entry with 200; the same key with another body is 409. Keys posted here live in a namespace of their own (stored as `api:<key>`, shown as sent), apart from the keys of trigger runs and transfers. A debit the policy forbids is 422 insufficient_funds (or negative_balance_expired); a credit it forbids is 422 credit_too_small (under minCredit) or balance_limit (over maxBalance), unless an admin-scoped key sends adminOverride. The policy is the account\'s own values over its customer group\'s over the unit default.',
      params: ownerParamsSchema, body: postEntryBodySchema,
      responses: {
        201: { description: 'Posted.', schema: entrySchema },
        200: { description: 'Already posted under this key: the original entry.', schema: entrySchema },
        404: { description: 'No such account (and createIfMissing is false).' },
        409: { description: 'The key was used for a different posting.' },
      },
      handler: async ({ params, body, principal }) => {
        assertOverrideAllowed(body.adminOverride, principal);
        const result = await ledger.post({
          ownerId: params.ownerId,
          unit: body.unit,
          direction: body.direction,
          amount: body.amount,
          // The API's own namespace: a client can never post under a run's or a transfer's key.
          idempotencyKey: storedApiKey(body.idempotencyKey),
          createIfMissing: body.createIfMissing,
          ...(body.comment !== undefined ? { comment: body.comment } : {}),
          source: { kind: 'api', keyId: principal?.keyId ?? 'unknown', ...(body.adminOverride ? { adminOverride: true as const } : {}) },
          ...(body.adminOverride ? { adminOverride: true } : {}),
        }).catch((error: unknown) => { throw inClientTerms(error, body.idempotencyKey); });
        return { status: result.replayed ? 200 : 201, body: entryView(result.entry) };
      },
    });
  };
}
