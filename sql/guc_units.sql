--
-- Out-of-range values of parameters with units. PostgreSQL 17 started to
-- print the unit in the range ("10 ms .. 60000 ms"): guc_units_1.out is
-- that variant.
--
ALTER SYSTEM SET iosat.sample_interval = '5ms';
ALTER SYSTEM SET iosat.sample_interval = '2h';
ALTER SYSTEM SET iosat.queue_timeout = '0';
ALTER SYSTEM SET iosat.latency_target = '2min';
ALTER SYSTEM SET iosat.bpf_max_age = -1;
