ALTER TABLE sign_in_failures DROP COLUMN locks;
ALTER TABLE sign_in_failures DROP COLUMN consecutive;
