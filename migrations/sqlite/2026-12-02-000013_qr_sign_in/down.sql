ALTER TABLE clients DROP COLUMN name;
DROP TABLE qr_logins;
