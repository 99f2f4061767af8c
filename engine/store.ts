import mongoose, { mongo, type Connection, type Model, type Schema } from 'mongoose';

/** How long a store operation waits for a reachable server before failing. */
const SERVER_SELECTION_TIMEOUT_MS = 5_000;

/**
 * Opens a dedicated mongoose connection (never the global one, so tests and
 * processes can hold several). Works against MongoDB 7+ and FerretDB 1.x:
 * nothing here needs transactions or change streams.
 */
export async function connectStore(uri: string, options: { dbName?: string; monitorCommands?: boolean } = {}): Promise<Connection> {
  const connection = mongoose.createConnection(uri, {
    serverSelectionTimeoutMS: SERVER_SELECTION_TIMEOUT_MS,
    ...(options.dbName ? { dbName: options.dbName } : {}),
    ...(options.monitorCommands ? { monitorCommands: true } : {}),
  });
  await connection.asPromise();
  return connection;
}

/**
 * The driver's collection behind a model, for inserts and `_id` reads on hot
 * paths: it skips mongoose's document building and casting, which costs more
 * CPU than the store round trip. Callers pass complete, validated documents.
 */
export function driverCollection<T extends { _id: string }>(model: Model<T>): mongo.Collection<T> {
  return model.collection as unknown as mongo.Collection<T>;
}

/**
 * A document as a read of `collection` would return it: through the
 * collection's own BSON options, so an `undefined` field becomes null or
 * disappears exactly as the store would have it. For handing a document
 * just written to code that would otherwise read it back.
 */
export function storedForm<T extends mongo.Document>(collection: mongo.Collection<T>, doc: T): T {
  // A model's collection (driverCollection) is mongoose's wrapper, which holds the driver's collection once connected.
  const driver = (collection as unknown as { collection?: mongo.Collection<T> }).collection ?? collection;
  const options = driver.bsonOptions;
  if (options === undefined) throw new Error('storedForm needs a connected collection');
  return mongo.BSON.deserialize(mongo.BSON.serialize(doc, options), options) as T;
}

/** Rejects unless the store answers a ping. */
export async function pingStore(connection: Connection): Promise<void> {
  const db = connection.db;
  if (!db || connection.readyState !== mongoose.ConnectionStates.connected) {
    throw new Error('store connection is not open');
  }
  await db.command({ ping: 1 });
}

/** MongoDB's duplicate key error: a unique index refused the write. */
export function isDuplicateKeyError(error: unknown): boolean {
  return (error as { code?: number } | null)?.code === 11000;
}

/**
 * Runs an upsert, retrying once when a concurrent upsert of the same key won
 * the insert race (MongoDB and FerretDB both report it as a duplicate key;
 * the retry then matches the document the other writer inserted).
 */
export async function upsertRacing<T>(upsert: () => Promise<T>): Promise<T> {
  try {
    return await upsert();
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
    return upsert();
  }
}

/** The connection's model of that name, compiled once: a second call (another factory on the same connection) gets the same model. */
export function modelOn<T>(connection: Connection, name: string, schema: Schema<T>): Model<T> {
  return (connection.models[name] as Model<T> | undefined) ?? connection.model<T>(name, schema);
}
