-- Lockouts escalate: `locks` counts the locks since the last full sign-in
-- (each lasts twice the one before, up to a day), and `consecutive` the
-- failures since then, which the window of `failures` never forgets; past
-- its cap the subject stays locked until a password reset or an
-- administrator lifts it.
ALTER TABLE sign_in_failures ADD COLUMN consecutive INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sign_in_failures ADD COLUMN locks INTEGER NOT NULL DEFAULT 0;
