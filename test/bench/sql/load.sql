-- Storm benchmark data set, one for every scenario. psql variables:
-- core_rows, oltp_rows, vac_rows, cold_rows, bulk_rows, heavy_accounts
-- (accounts with heavy_rows rows each, scattered over the heap).
\set ON_ERROR_STOP 1
CREATE EXTENSION IF NOT EXISTS pg_prewarm;
DROP MATERIALIZED VIEW IF EXISTS acct_mv_0, acct_mv_1;
DROP TABLE IF EXISTS core_lead, oltp, vac_target, cold, bulk, bulk_log, events;

-- The incident's table: index on account_id only; the heavy query filters on
-- JSONB and deleted_at, so it visits every row of the account and returns none.
CREATE TABLE core_lead (
    id bigserial PRIMARY KEY,
    account_id int NOT NULL,
    payload jsonb NOT NULL,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
) WITH (autovacuum_enabled = false);
INSERT INTO core_lead (account_id, payload, deleted_at)
SELECT CASE WHEN random() < (:heavy_accounts * :heavy_rows)::float8 / :core_rows
            THEN 1 + (g % :heavy_accounts)
            ELSE 1000 + (random() * (:core_rows / 25))::int END,
       jsonb_build_object('source', (ARRAY['web','api','import','partner'])[1 + g % 4],
                          'status', (ARRAY['open','won','lost','stale'])[1 + (g / 7) % 4],
                          'score', g % 1000,
                          'tags', jsonb_build_array('t' || g % 17, 't' || g % 29),
                          'note', md5(g::text) || md5((g + 1)::text)),
       CASE WHEN g % 10 = 0 THEN now() END
FROM generate_series(1, :core_rows) g;
CREATE INDEX idx_account_id ON core_lead (account_id);

-- OLTP: cheap primary-key read + update.
CREATE TABLE oltp (
    id int PRIMARY KEY,
    balance bigint NOT NULL DEFAULT 0,
    filler text NOT NULL
) WITH (fillfactor = 90, autovacuum_enabled = false);
INSERT INTO oltp SELECT g, 0, repeat('x', 150) FROM generate_series(1, :oltp_rows) g;

-- VACUUM target: large indexes, dead tuples recreated before each run.
CREATE TABLE vac_target (
    id int PRIMARY KEY,
    a int NOT NULL,
    b int NOT NULL,
    c text NOT NULL,
    filler text NOT NULL
) WITH (autovacuum_enabled = false);
INSERT INTO vac_target
SELECT g, (random() * 1e6)::int, (random() * 1e6)::int, md5(g::text), repeat('v', 40)
FROM generate_series(1, :vac_rows) g;
CREATE INDEX vac_a ON vac_target (a);
CREATE INDEX vac_b ON vac_target (b);
CREATE INDEX vac_c ON vac_target (c);

-- parallel and maintenance: a cold table bigger than the server's memory
-- cgroup (~700 MB); the parallel aggregate's filter matches no row.
CREATE TABLE cold (
    id bigint NOT NULL,
    k1 int NOT NULL,
    k2 int NOT NULL,
    ts timestamptz NOT NULL,
    payload text NOT NULL
) WITH (autovacuum_enabled = false);
INSERT INTO cold
SELECT g, (random() * 1e6)::int, (random() * 1e6)::int, now() - g * interval '1 s',
       md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) || md5((g * 31)::text) || md5((g * 37)::text)
FROM generate_series(1, :cold_rows) g;
-- parallel and writes: a customer key uncorrelated with the heap order (a
-- range of it is rows scattered over the whole table)
CREATE INDEX cold_k1 ON cold (k1);
-- maintenance: reports built from the incident's index scan
CREATE MATERIALIZED VIEW acct_mv_0 AS
SELECT count(*) AS n, max(created_at) AS last FROM core_lead
WHERE account_id = 1 AND payload @> '{"status": "vip"}' AND deleted_at IS NULL;
CREATE MATERIALIZED VIEW acct_mv_1 AS
SELECT count(*) AS n, max(created_at) AS last FROM core_lead
WHERE account_id = 2 AND payload @> '{"status": "vip"}' AND deleted_at IS NULL;

-- writes and autovacuum: bulk UPDATE / INSERT ... SELECT / DELETE
CREATE TABLE bulk (
    id int PRIMARY KEY,
    v bigint NOT NULL,
    filler text NOT NULL
) WITH (autovacuum_enabled = false);
INSERT INTO bulk SELECT g, 0, repeat('b', 100) FROM generate_series(1, :bulk_rows) g;
CREATE TABLE bulk_log (LIKE bulk) WITH (autovacuum_enabled = false);

-- autovacuum: a table partitioned by id (events_parts partitions of
-- events_rows / events_parts rows, a primary key and a secondary index each);
-- a nightly retention job leaves dead tuples in every partition (reset.sql)
CREATE TABLE events (
    id int NOT NULL,
    k int NOT NULL,
    v bigint NOT NULL,
    filler text NOT NULL,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
SELECT format('CREATE TABLE events_%s PARTITION OF events FOR VALUES FROM (%s) TO (%s) WITH (autovacuum_enabled = false)',
              p, p * (:events_rows / :events_parts), (p + 1) * (:events_rows / :events_parts))
FROM generate_series(0, :events_parts - 1) p \gexec
INSERT INTO events SELECT g, (random() * 1e6)::int, 0, repeat('e', 100) FROM generate_series(0, :events_rows - 1) g;
CREATE INDEX events_k ON events (k);

VACUUM ANALYZE cold;
VACUUM ANALYZE bulk;
VACUUM ANALYZE core_lead;
VACUUM ANALYZE oltp;
VACUUM ANALYZE vac_target;
VACUUM ANALYZE events;
CHECKPOINT;
SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) AS total,
       pg_relation_size(oid) / 8192 AS heap_pages
FROM pg_class WHERE relname IN ('core_lead', 'oltp', 'vac_target', 'cold', 'bulk', 'events_0') ORDER BY 1;
