ALTER TABLE login_flows DROP COLUMN destination;
