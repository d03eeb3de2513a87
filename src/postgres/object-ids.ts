// OIDs PostgreSQL reserves (src/include/access/transam.h).

/** FirstNormalObjectId: the first OID (and relfilenode) a user object can get; below it, the system catalogs and databases initdb creates. */
export const FIRST_NORMAL_OBJECT_ID = 16384;
