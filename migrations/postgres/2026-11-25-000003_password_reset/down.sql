DROP TABLE contact_changes;
DROP TABLE password_resets;
