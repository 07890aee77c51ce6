--
-- iosat: installation, parameters and the shape of the device views.
-- The regression instance preloads iosat (test/regress.conf).
--
CREATE EXTENSION iosat;

-- the parameters exist, with units and ranges
SELECT name, setting, unit, context, vartype, min_val, max_val
  FROM pg_settings
 WHERE name IN ('iosat.sample_interval', 'iosat.smoothing_window',
                'iosat.iops_limit', 'iosat.devices',
                'iosat.sysfs_root', 'iosat.procfs_root',
                'iosat.bpf', 'iosat.bpf_pin_dir', 'iosat.bpf_max_age')
 ORDER BY name;

-- out-of-range and malformed values are refused with a clear message
-- (they are reload-time settings: SET is refused, ALTER SYSTEM validates)
SET iosat.devices = 'loop0';
ALTER SYSTEM SET iosat.iops_limit = -1;
ALTER SYSTEM SET iosat.iops_limit = 'lots';
ALTER SYSTEM SET iosat.smoothing_window = '99999999999';
ALTER SYSTEM SET iosat.devices = '../../etc/passwd';
ALTER SYSTEM SET iosat.devices = 'a,b;rm -rf';
ALTER SYSTEM SET iosat.devices = 'this_name_is_far_too_long_for_a_block_device';
ALTER SYSTEM SET iosat.sysfs_root = 'relative/path';
ALTER SYSTEM SET iosat.sysfs_root = '/sys/../etc';
ALTER SYSTEM SET iosat.procfs_root = '/proc/..';
ALTER SYSTEM SET iosat.bpf_pin_dir = 'sys/fs/bpf/iosat';
ALTER SYSTEM SET iosat.bpf_pin_dir = '/sys/fs/bpf/../../etc';
ALTER SYSTEM SET iosat.bpf_pin_dir = '/sys/fs/bpf/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx';
-- a good value is accepted by ALTER SYSTEM (and taken back)
ALTER SYSTEM SET iosat.devices = 'vda, 254:0';
ALTER SYSTEM RESET iosat.devices;

-- the prefix is reserved: a misspelt iosat parameter is an error
SET iosat.no_such_setting = 1;

-- views have the documented columns
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute
 WHERE attrelid = 'iosat_devices'::regclass AND attnum > 0
 ORDER BY attnum;
SELECT attname, format_type(atttypid, atttypmod)
  FROM pg_attribute
 WHERE attrelid = 'iosat_status'::regclass AND attnum > 0
 ORDER BY attnum;

-- the sampler is running and has found the data directory's device
SELECT pg_sleep(0.5);
SELECT sampler_pid IS NOT NULL AS sampler_running,
       samples > 0 AS sampled,
       devices >= 1 AS has_devices,
       NOT stale AS fresh,
       bpf_status IS NOT NULL AS bpf_checked,
       pass_us > 0 AS pass_timed
  FROM iosat_status;
SELECT count(*) >= 1 AS data_device_found
  FROM iosat_devices WHERE 'data' = ANY (roles);

-- a non-superuser may read the device views
CREATE ROLE iosat_regress_reader LOGIN;
SET ROLE iosat_regress_reader;
SELECT count(*) >= 1 AS visible FROM iosat_devices;
SELECT count(*) = 1 AS visible FROM iosat_status;
-- but not every process on the machine (iosat_io_top: pg_read_all_stats)
SELECT count(*) FROM iosat_io_top;
RESET ROLE;
DROP ROLE iosat_regress_reader;

DROP EXTENSION iosat;
