-- Where a sign-in to Portti's own pages ends: NULL for the account page,
-- 'admin' for the administration pages that started it.
ALTER TABLE login_flows ADD COLUMN destination TEXT;
