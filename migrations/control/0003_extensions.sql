-- Trusted extensions (PostgreSQL 13+: the database owner may create them) in the shared
-- (pg_trgm and fuzzystrmatch for name search, unaccent for folding, btree_gist for the
-- no-double-booking constraint)
-- `extensions` schema, which every clinic role can use but none can write to.
CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS unaccent SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS btree_gist SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch SCHEMA extensions;

-- Case- and accent-insensitive form of a name: 'José Ñúñez' -> 'jose nunez'. unaccent() itself is
-- only STABLE (its dictionary could change); naming the dictionary explicitly makes this safe to
-- declare IMMUTABLE, so it can be used in generated columns and indexes.
CREATE FUNCTION extensions.fold(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT lower(extensions.unaccent('extensions.unaccent'::regdictionary, $1)) $$;
