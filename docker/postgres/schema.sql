-- The demo schema on every shard (applied once by /docker-entrypoint-initdb.d on each primary;
-- replicas copy it). Every sharded table carries tenant_id, as docker/shardgate/shard-map.yaml
-- expects; currencies is a reference table, identical everywhere.
\connect pms
SET ROLE app;
CREATE TABLE tenants (tenant_id bigint PRIMARY KEY, name text NOT NULL);
CREATE TABLE properties (tenant_id bigint NOT NULL, property_id bigint NOT NULL, name text,
                         PRIMARY KEY (tenant_id, property_id));
CREATE TABLE rooms (tenant_id bigint NOT NULL, property_id bigint NOT NULL, room_no text NOT NULL,
                    PRIMARY KEY (tenant_id, property_id, room_no));
CREATE TABLE guests (tenant_id bigint NOT NULL, guest_id bigint NOT NULL, name text,
                     PRIMARY KEY (tenant_id, guest_id));
CREATE TABLE reservations (tenant_id bigint NOT NULL, reservation_id bigint NOT NULL,
                           guest text, arrival date, nights int,
                           PRIMARY KEY (tenant_id, reservation_id));
CREATE TABLE folios (tenant_id bigint NOT NULL, folio_id bigint NOT NULL, total numeric(12,2),
                     PRIMARY KEY (tenant_id, folio_id));
CREATE TABLE payments (tenant_id bigint NOT NULL, payment_id bigint NOT NULL, amount numeric(12,2),
                       PRIMARY KEY (tenant_id, payment_id));
CREATE TABLE currencies (code text PRIMARY KEY, name text NOT NULL);
INSERT INTO currencies VALUES ('EUR', 'Euro'), ('USD', 'US dollar');
