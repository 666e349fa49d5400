-- Where a sign-in to Portti's own pages ends: NULL for the account page, or
-- the administration page (a path under /admin) that sent the person to sign in.
ALTER TABLE login_flows ADD COLUMN destination TEXT;
