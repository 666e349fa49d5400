DROP TABLE device_grants;
DROP TABLE device_assertions;
DROP TABLE devices;
