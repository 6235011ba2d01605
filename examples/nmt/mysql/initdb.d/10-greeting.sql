-- Run once, on the first start with an empty data directory, by the image's
-- entrypoint (/docker-entrypoint-initdb.d), in the database MARIADB_DATABASE
-- names; MARIADB_USER has been created and granted that database already.
CREATE TABLE greeting (id INT PRIMARY KEY, text VARCHAR(100));
INSERT INTO greeting VALUES (1, 'hello from mysql');
