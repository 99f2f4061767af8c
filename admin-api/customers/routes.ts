import type { Customer, CustomerDirectory, Group } from '../../engine/customers';
import type { RouteModule } from '../app';
import { pageQuerySchema } from '../schemas';
import { customerPageSchema, customerSchema, customersQuerySchema, groupPageSchema, groupParamsSchema, groupSchema, ownerParamsSchema, putCustomerBodySchema, putGroupBodySchema } from './schemas';

function groupView(group: Group) {
  return { ...group, createdAt: group.createdAt.toISOString(), updatedAt: group.updatedAt.toISOString() };
}

function customerView(customer: Customer) {
  return { ...customer, createdAt: customer.createdAt.toISOString(), updatedAt: customer.updatedAt.toISOString() };
}

/**
 * Customers and groups (contract: api-v1.md, "Customers and groups").
 * Groups carry money rules (opening balances, policy layers): writing them
 * takes the `admin` scope. Profiles take `accounts:write`, reads `accounts:read`.
 */
export function customerRoutes(directory: CustomerDirectory): RouteModule {
  const { groups, customers, opening } = directory;
  return (routes) => {
    routes.add({
      method: 'put', path: '/v1/groups/:groupId', scope: 'admin', tags: ['Customers'],
      summary: 'Create or replace a customer group',
      description: 'A group\'s `openingBalance` is credited once per customer and unit, the first time the customer is in a group with one; changing it later grants nothing to existing members. Its `policy` is the middle layer: an account\'s own override wins, the unit default applies where neither sets a value.',
      params: groupParamsSchema, body: putGroupBodySchema,
      responses: { 201: { description: 'Created.', schema: groupSchema }, 200: { description: 'Replaced.', schema: groupSchema } },
      handler: async ({ params, body }) => {
        const { group, created } = await groups.put(params.groupId, body);
        return { status: created ? 201 : 200, body: groupView(group) };
      },
    });
    routes.add({
      method: 'get', path: '/v1/groups', scope: 'accounts:read', tags: ['Customers'],
      summary: 'List customer groups by id',
      query: pageQuerySchema,
      responses: { 200: { description: 'One page of groups.', schema: groupPageSchema } },
      handler: async ({ query }) => {
        const page = await groups.list(query);
        return { status: 200, body: { items: page.items.map(groupView), nextCursor: page.nextCursor } };
      },
    });
    routes.add({
      method: 'get', path: '/v1/groups/:groupId', scope: 'accounts:read', tags: ['Customers'],
      summary: 'Get a customer group',
      params: groupParamsSchema,
      responses: { 200: { description: 'The group.', schema: groupSchema }, 404: { description: 'No such group.' } },
      handler: async ({ params }) => ({ status: 200, body: groupView(await groups.get(params.groupId)) }),
    });
    routes.add({
      method: 'delete', path: '/v1/groups/:groupId', scope: 'admin', tags: ['Customers'],
      summary: 'Delete a customer group no customer is in',
      description: 'Refused with 409 `group_in_use` while any customer is in the group. A customer PUT racing with the delete either lands first (the delete is refused) or is refused itself with 409 `group_deleted`.',
      params: groupParamsSchema,
      responses: { 204: { description: 'Deleted.' }, 404: { description: 'No such group.' }, 409: { description: 'Customers are in the group.' } },
      handler: async ({ params }) => {
        await groups.delete(params.groupId);
        return { status: 204 };
      },
    });

    routes.add({
      method: 'put', path: '/v1/customers/:ownerId', scope: 'accounts:write', tags: ['Customers'],
      summary: 'Create or replace a customer profile',
      description: 'The profile replaces the stored one. The first time the customer is in a group with an `openingBalance`, each of its units is credited once (idempotency key `opening:<unit>:<ownerId>`, source kind `opening`), also when several PUTs race; moving between groups never grants again. Runs of events naming the owner see the profile as `customer`.',
      params: ownerParamsSchema, body: putCustomerBodySchema,
      responses: {
        201: { description: 'Created.', schema: customerSchema },
        200: { description: 'Replaced.', schema: customerSchema },
        409: { description: 'The group was deleted while the customer was being saved (`group_deleted`); nothing was changed.' },
      },
      handler: async ({ params, body }) => {
        const { customer, created, opening: granted } = await customers.put(params.ownerId, body);
        return { status: created ? 201 : 200, body: { ...customerView(customer), openingBalance: granted ? { groupId: granted.groupId, amounts: granted.amounts } : null } };
      },
    });
    routes.add({
      method: 'get', path: '/v1/customers', scope: 'accounts:read', tags: ['Customers'],
      summary: 'List customers by owner id',
      query: customersQuerySchema,
      responses: { 200: { description: 'One page of customers.', schema: customerPageSchema } },
      handler: async ({ query }) => {
        const { limit, cursor, groupId } = query;
        const page = await customers.list({ groupId }, { limit, cursor });
        return { status: 200, body: { items: page.items.map(customerView), nextCursor: page.nextCursor } };
      },
    });
    routes.add({
      method: 'get', path: '/v1/customers/:ownerId', scope: 'accounts:read', ownerParam: 'ownerId', tags: ['Customers'],
      summary: 'Get a customer profile',
      params: ownerParamsSchema,
      responses: { 200: { description: 'The customer.', schema: customerSchema }, 404: { description: 'No such customer.' } },
      handler: async ({ params }) => {
        const [customer, granted] = await Promise.all([customers.get(params.ownerId), opening.of(params.ownerId)]);
        return { status: 200, body: { ...customerView(customer), openingBalance: granted } };
      },
    });
  };
}
