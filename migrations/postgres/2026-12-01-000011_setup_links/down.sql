DROP TABLE setup_links;
