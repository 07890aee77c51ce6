/*-------------------------------------------------------------------------
 *
 * views.h
 *	  Helpers shared by iosat's set-returning functions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef IOSAT_VIEWS_H
#define IOSAT_VIEWS_H

#include "postgres.h"

#include "access/tupdesc.h"
#include "utils/timestamp.h"

#define IOSAT_MAX_COLS 64

/* a result row filled column by column, in the order of the SQL definition */
typedef struct IosatRow
{
	int			natts;
	int			n;
	Datum		values[IOSAT_MAX_COLS];
	bool		nulls[IOSAT_MAX_COLS];
} IosatRow;

extern void iosat_set_values_init(IosatRow *row, TupleDesc tupdesc);
extern void iosat_put(IosatRow *row, Datum value);
extern void iosat_put_null(IosatRow *row);
extern void iosat_put_text(IosatRow *row, const char *s);
extern void iosat_put_timestamp(IosatRow *row, TimestampTz t);

#endif							/* IOSAT_VIEWS_H */
