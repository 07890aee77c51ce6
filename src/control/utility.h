/*-------------------------------------------------------------------------
 *
 * utility.h
 *	  Which utility statements admission control gates, and how
 *	  (utility.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_UTILITY_H
#define IOSAT_UTILITY_H

#include "postgres.h"

#include "nodes/nodes.h"

typedef enum IosatUtilityKind
{
	/* not gated; nor are the statements it runs */
	IOSAT_UTILITY_OTHER = 0,
	/*
	 * runs one query, one level down, that is gated and paced as the
	 * statement it is (and learned under the utility's queryid when the
	 * query has none): EXPLAIN ANALYZE, DECLARE CURSOR, EXECUTE, CREATE
	 * TABLE AS / SELECT INTO / CREATE MATERIALIZED VIEW, COPY (query) TO,
	 * REFRESH MATERIALIZED VIEW
	 */
	IOSAT_UTILITY_WRAPPER,
	/*
	 * gated once at its start, as a whole, by its learned I/O or, before
	 * any history, by the size of what it reads; the statements it runs are
	 * not gated one by one: CREATE INDEX, REINDEX, CLUSTER, VACUUM FULL,
	 * ALTER TABLE, COPY table TO, CALL, DO
	 */
	IOSAT_UTILITY_GATED
} IosatUtilityKind;

/*
 * The kind of a top-level utility statement; for IOSAT_UTILITY_GATED,
 * *blocks is what it will read before any history (pg_class.relpages of
 * the tables it reads; -1 when unknown: gated by its history only).
 * Catalog look-ups by name, without locks.
 */
extern IosatUtilityKind iosat_utility_kind(Node *stmt, double *blocks);

#endif							/* IOSAT_UTILITY_H */
