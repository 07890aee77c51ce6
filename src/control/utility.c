/*-------------------------------------------------------------------------
 *
 * utility.c
 *	  Which utility statements admission control gates, and how.
 *
 * Two shapes of utility statement make heavy I/O:
 *	- a wrapper runs one query through the executor, one level down (the
 *	  query of an EXECUTE, a CREATE TABLE AS, a COPY (query) TO, a REFRESH
 *	  MATERIALIZED VIEW): that query is gated, paced and learned as the
 *	  statement it is;
 *	- maintenance (CREATE INDEX, REINDEX, CLUSTER, VACUUM FULL, ALTER TABLE
 *	  rewrites, COPY table TO) reads whole tables through the table access
 *	  method, not the executor, and CALL and DO run any number of
 *	  statements: each is gated once, at its start, before it takes its
 *	  locks, and the statements it runs are not gated one by one.
 * A gated utility is heavy by what its queryid read before (iosat_queries)
 * or, with no history, by the pages of what it reads (pg_class.relpages,
 * an estimate kept by VACUUM and ANALYZE, looked up by name without a
 * lock); CALL, DO and ALTER TABLE commands that need not read the table
 * are heavy only by their history.  None of them can be paced: the table
 * AM's build and copy scans have no pacing point (no executor node, no
 * vacuum_delay_point in 15-18's heap build and copy loops).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/defrem.h"
#include "nodes/parsenodes.h"
#include "utils/syscache.h"

#include "compat.h"
#include "control/utility.h"

/* what a database-wide form reads: more than any threshold */
#define WHOLE_DATABASE	1e15

static double
relpages_of(Oid relid)
{
	HeapTuple	tup;
	double		pages = 0;

	if (!OidIsValid(relid))
		return 0;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (HeapTupleIsValid(tup))
	{
		Form_pg_class rel = (Form_pg_class) GETSTRUCT(tup);

		/* an index reads its table */
		if (rel->relkind == RELKIND_INDEX)
		{
			ReleaseSysCache(tup);
			return relpages_of(IndexGetRelation(relid, true));
		}
		pages = Max(rel->relpages, 0);
		ReleaseSysCache(tup);
	}
	return pages;
}

/* the pages of a relation named in the statement (0 if there is none) */
static double
pages_named(RangeVar *rv)
{
	if (rv == NULL)
		return 0;
	return relpages_of(RangeVarGetRelid(rv, NoLock, true));
}

static bool
option_set(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (strcmp(opt->defname, name) == 0)
			return defGetBoolean(opt);
	}
	return false;
}

/* ALTER TABLE: the subcommands that read or rewrite the whole table */
static double
alter_table_pages(AlterTableStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		switch (cmd->subtype)
		{
			case AT_AlterColumnType:
			case AT_SetLogged:
			case AT_SetUnLogged:
			case AT_SetAccessMethod:
			case AT_SetTableSpace:
			case AT_AddConstraint:
			case AT_ValidateConstraint:
			case AT_AddIndex:
				return pages_named(stmt->relation);
			default:
				break;
		}
	}
	return -1;
}

IosatUtilityKind
iosat_utility_kind(Node *stmt, double *blocks)
{
	*blocks = -1;
	switch (nodeTag(stmt))
	{
		case T_ExplainStmt:
		case T_DeclareCursorStmt:
		case T_ExecuteStmt:
		case T_CreateTableAsStmt:
		case T_RefreshMatViewStmt:
			return IOSAT_UTILITY_WRAPPER;
		case T_CopyStmt:
			{
				CopyStmt   *copy = (CopyStmt *) stmt;

				if (copy->is_from)
					return IOSAT_UTILITY_OTHER;
				if (copy->query != NULL)
					return IOSAT_UTILITY_WRAPPER;
				*blocks = pages_named(copy->relation);
				return IOSAT_UTILITY_GATED;
			}
		case T_IndexStmt:
			*blocks = pages_named(((IndexStmt *) stmt)->relation);
			return IOSAT_UTILITY_GATED;
		case T_ReindexStmt:
			{
				ReindexStmt *r = (ReindexStmt *) stmt;

				*blocks = (r->kind == REINDEX_OBJECT_INDEX ||
						   r->kind == REINDEX_OBJECT_TABLE) ?
					pages_named(r->relation) : WHOLE_DATABASE;
				return IOSAT_UTILITY_GATED;
			}
		case IOSAT_T_CLUSTER_STMT:
			{
				RangeVar   *rel = IOSAT_CLUSTER_RELATION(stmt);

				*blocks = rel ? pages_named(rel) : WHOLE_DATABASE;
				return IOSAT_UTILITY_GATED;
			}
		case T_VacuumStmt:
			{
				VacuumStmt *v = (VacuumStmt *) stmt;
				ListCell   *lc;

				/* plain VACUUM and ANALYZE have vacuum backpressure */
				if (!v->is_vacuumcmd || !option_set(v->options, "full"))
					return IOSAT_UTILITY_OTHER;
				if (v->rels == NIL)
				{
					*blocks = WHOLE_DATABASE;
					return IOSAT_UTILITY_GATED;
				}
				*blocks = 0;
				foreach(lc, v->rels)
					*blocks += pages_named(lfirst_node(VacuumRelation, lc)->relation);
				return IOSAT_UTILITY_GATED;
			}
		case T_AlterTableStmt:
			*blocks = alter_table_pages((AlterTableStmt *) stmt);
			return IOSAT_UTILITY_GATED;
		case T_CallStmt:
		case T_DoStmt:
			return IOSAT_UTILITY_GATED;
		default:
			return IOSAT_UTILITY_OTHER;
	}
}
