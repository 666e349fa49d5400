ALTER TABLE grants DROP COLUMN acr;
ALTER TABLE browser_sessions DROP COLUMN acr;
DROP TABLE upstream_links;
DROP TABLE upstream_logins;
DROP TABLE upstream_keys;
