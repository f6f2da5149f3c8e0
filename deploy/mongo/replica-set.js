// MongoDB health check for docker-compose (mongosh --file): initialises the
// single-node replica set rs0 on first use, then reports healthy once this
// node is the writable primary. The services need a replica set because
// their writes use multi-document transactions (state change + outbox).
// The member's host is the compose service name, which every container resolves.
try {
  rs.status();
} catch (e) {
  if (e.codeName !== 'NotYetInitialized') throw e;
  rs.initiate({ _id: 'rs0', members: [{ _id: 0, host: 'mongo:27017' }] });
}
if (!db.hello().isWritablePrimary) {
  print('replica set rs0: not primary yet');
  quit(1);
}
