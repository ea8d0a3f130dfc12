-- A small hotel property-management (PMS) schema with deterministic sample data, used by
-- scripts/demo.sh and by tests. Every table carries tenant_id (the hotel group), and all but
-- tenants and guests carry property_id (the hotel): the shard keys shardgate routes on.
-- Properties also carry brand_id + region_code, for maps that shard by brand and region.
--
-- No random(): the same rows on every load, so examples and expected outputs stay valid.
-- Sizes: 8 tenants, 20 properties, 300 rooms, 1,500 guests, 4,000 reservations, 3,600
-- folios, 2,899 payments. Re-running the script replaces everything.

SET client_min_messages = warning;

BEGIN;

DROP TABLE IF EXISTS payments, folios, reservations, guests, rooms, properties, tenants CASCADE;

CREATE TABLE tenants (
    tenant_id  bigint PRIMARY KEY,
    name       text NOT NULL
);

CREATE TABLE properties (
    tenant_id    bigint NOT NULL REFERENCES tenants,
    property_id  bigint NOT NULL,
    name         text NOT NULL,
    city         text,                       -- NULL for a property still being onboarded
    brand_id     text NOT NULL,
    region_code  text NOT NULL,
    PRIMARY KEY (tenant_id, property_id),
    UNIQUE (property_id)
);

CREATE TABLE rooms (
    tenant_id    bigint NOT NULL,
    property_id  bigint NOT NULL,
    room_id      bigint NOT NULL,
    room_number  text NOT NULL,
    room_type    text NOT NULL,
    floor        integer NOT NULL,
    base_rate    numeric(10,2) NOT NULL,
    PRIMARY KEY (tenant_id, room_id),
    FOREIGN KEY (tenant_id, property_id) REFERENCES properties
);

CREATE TABLE guests (
    tenant_id   bigint NOT NULL REFERENCES tenants,
    guest_id    bigint NOT NULL,
    first_name  text NOT NULL,
    last_name   text NOT NULL,
    email       text,                        -- NULL for walk-ins
    phone       text,
    country     char(2),
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, guest_id)
);

CREATE TABLE reservations (
    tenant_id       bigint NOT NULL,
    property_id     bigint NOT NULL,
    reservation_id  bigint NOT NULL,
    guest_id        bigint NOT NULL,
    room_id         bigint NOT NULL,
    check_in        date NOT NULL,
    check_out       date NOT NULL,
    status          text NOT NULL
        CHECK (status IN ('confirmed', 'checked_in', 'checked_out', 'cancelled', 'no_show')),
    total           numeric(12,2) NOT NULL,
    created_at      timestamptz NOT NULL,
    notes           text,
    PRIMARY KEY (tenant_id, reservation_id),
    FOREIGN KEY (tenant_id, property_id) REFERENCES properties,
    FOREIGN KEY (tenant_id, guest_id) REFERENCES guests,
    FOREIGN KEY (tenant_id, room_id) REFERENCES rooms,
    CHECK (check_out > check_in)
);
CREATE INDEX reservations_property_check_in ON reservations (tenant_id, property_id, check_in);

CREATE TABLE folios (
    tenant_id       bigint NOT NULL,
    property_id     bigint NOT NULL,
    folio_id        bigint NOT NULL,
    reservation_id  bigint NOT NULL,
    opened_at       timestamptz NOT NULL,
    closed_at       timestamptz,             -- NULL while the guest is in house
    balance         numeric(12,2) NOT NULL,
    currency        char(3) NOT NULL,
    PRIMARY KEY (tenant_id, folio_id),
    FOREIGN KEY (tenant_id, reservation_id) REFERENCES reservations
);

CREATE TABLE payments (
    tenant_id    bigint NOT NULL,
    property_id  bigint NOT NULL,
    payment_id   bigint NOT NULL,
    folio_id     bigint NOT NULL,
    amount       numeric(12,2) NOT NULL,
    method       text NOT NULL CHECK (method IN ('card', 'cash', 'bank_transfer')),
    paid_at      timestamptz NOT NULL,
    reference    text,                       -- card or transfer reference; NULL for cash
    PRIMARY KEY (tenant_id, payment_id),
    FOREIGN KEY (tenant_id, folio_id) REFERENCES folios
);

INSERT INTO tenants (tenant_id, name)
SELECT t, (ARRAY['Alpine Lodges', 'Baltic Stays', 'Coral Resorts', 'Danube Inns',
                 'Ember Hotels', 'Fjord Cabins', 'Granite Suites', 'Harbour House'])[t]
FROM generate_series(1, 8) AS t;

-- Property p belongs to tenant ((p - 1) % 8) + 1: tenants 1-4 have three properties, 5-8 two.
INSERT INTO properties (tenant_id, property_id, name, city, brand_id, region_code)
SELECT ((p - 1) % 8) + 1,
       p,
       'Hotel ' || (ARRAY['Aurora', 'Beacon', 'Cedar', 'Dune', 'Elm'])[((p - 1) % 5) + 1]
                || ' ' || p,
       CASE WHEN p = 20 THEN NULL
            ELSE (ARRAY['Zurich', 'Riga', 'Lisbon', 'Vienna', 'Oslo', 'Porto', 'Tallinn',
                        'Bergen', 'Graz', 'Lyon'])[((p - 1) % 10) + 1] END,
       'brand-' || chr(ascii('a') + (p % 3)),
       (ARRAY['eu-central', 'eu-north', 'eu-west', 'us-east'])[((p - 1) % 4) + 1]
FROM generate_series(1, 20) AS p;

-- 15 rooms per property; room_id (p - 1) * 15 + n.
INSERT INTO rooms (tenant_id, property_id, room_id, room_number, room_type, floor, base_rate)
SELECT ((p - 1) % 8) + 1,
       p,
       (p - 1) * 15 + n,
       ((n - 1) / 5 + 1)::text || lpad((((n - 1) % 5) + 1)::text, 2, '0'),
       (ARRAY['single', 'double', 'double', 'twin', 'suite'])[((n - 1) % 5) + 1],
       (n - 1) / 5 + 1,
       (80 + ((n - 1) % 5) * 25 + (p % 4) * 10)::numeric(10,2) + 0.50
FROM generate_series(1, 20) AS p, generate_series(1, 15) AS n;

-- Guest g belongs to tenant ((g - 1) % 8) + 1.
INSERT INTO guests (tenant_id, guest_id, first_name, last_name, email, phone, country, created_at)
SELECT ((g - 1) % 8) + 1,
       g,
       (ARRAY['Ana', 'Ben', 'Chloé', 'Dmitri', 'Eva', 'Farid', 'Greta', 'Hiro', 'Ines',
              'Jonas', 'Kai', 'Lena', 'Marek'])[(g % 13) + 1],
       (ARRAY['Berg', 'Costa', 'Dubois', 'Eriksen', 'Fischer', 'García', 'Horvat',
              'Ivanova', 'Jensen', 'Kowalski', 'Lindqvist'])[(g % 11) + 1],
       CASE WHEN g % 9 = 0 THEN NULL ELSE 'guest' || g || '@example.com' END,
       CASE WHEN g % 4 = 0 THEN '+41 44 ' || lpad((g * 7919 % 10000000)::text, 7, '0') END,
       CASE WHEN g % 17 = 0 THEN NULL
            ELSE (ARRAY['CH', 'DE', 'FR', 'PT', 'NO', 'US', 'JP', 'LV'])[(g % 8) + 1] END,
       timestamptz '2025-01-01 00:00:00+00' + (g * 5171 % 31536000) * interval '1 second'
FROM generate_series(1, 1500) AS g;

-- Reservation r: property ((r - 1) % 20) + 1, a guest and a room of the same tenant and
-- property, 1 to 7 nights in 2026. Status is judged against a fixed "today" of 2026-06-01.
INSERT INTO reservations (tenant_id, property_id, reservation_id, guest_id, room_id,
                          check_in, check_out, status, total, created_at, notes)
SELECT s.tenant_id,
       s.property_id,
       s.r,
       s.tenant_id + 8 * ((s.r * 7) % 187),
       room.room_id,
       s.check_in,
       s.check_in + s.nights,
       CASE WHEN s.r % 20 IN (0, 1) THEN 'cancelled'
            WHEN s.r % 20 = 2 AND s.check_in < date '2026-06-01' THEN 'no_show'
            WHEN s.check_in + s.nights <= date '2026-06-01' THEN 'checked_out'
            WHEN s.check_in <= date '2026-06-01' THEN 'checked_in'
            ELSE 'confirmed' END,
       room.base_rate * s.nights,
       s.check_in - ((s.r % 60) + 1) * interval '1 day'
                  + (s.r * 97 % 86400) * interval '1 second',
       CASE WHEN s.r % 25 = 0 THEN 'late arrival'
            WHEN s.r % 31 = 0 THEN 'high floor, quiet room' END
FROM (SELECT r,
             ((r - 1) % 20) + 1 AS property_id,
             ((((r - 1) % 20) + 1 - 1) % 8) + 1 AS tenant_id,
             date '2026-01-01' + (r * 37 % 365) AS check_in,
             1 + r % 7 AS nights
      FROM generate_series(1, 4000) AS r) AS s
JOIN rooms AS room
  ON room.tenant_id = s.tenant_id
 AND room.room_id = (s.property_id - 1) * 15 + (s.r * 11 % 15) + 1;

-- One folio per reservation that was not cancelled; closed once the guest checked out.
INSERT INTO folios (tenant_id, property_id, folio_id, reservation_id, opened_at, closed_at,
                    balance, currency)
SELECT tenant_id,
       property_id,
       reservation_id,
       reservation_id,
       check_in + time '14:00' AT TIME ZONE 'UTC',
       CASE WHEN status = 'checked_out' THEN check_out + time '11:00' AT TIME ZONE 'UTC' END,
       total,
       CASE WHEN property_id % 4 = 0 THEN 'USD' ELSE 'EUR' END
FROM reservations
WHERE status <> 'cancelled';

-- Checked-out folios are paid in one or two payments; in-house ones have a deposit at most.
INSERT INTO payments (tenant_id, property_id, payment_id, folio_id, amount, method, paid_at,
                      reference)
SELECT f.tenant_id,
       f.property_id,
       f.folio_id * 2 + part.n - 1,
       f.folio_id,
       CASE WHEN r.status <> 'checked_out' THEN round(r.total * 0.20, 2)
            WHEN f.folio_id % 3 = 0 AND part.n = 1 THEN round(r.total * 0.30, 2)
            WHEN f.folio_id % 3 = 0 THEN r.total - round(r.total * 0.30, 2)
            ELSE r.total END,
       m.method,
       f.opened_at + part.n * interval '7 hours',
       CASE WHEN m.method = 'cash' THEN NULL
            ELSE upper(left(m.method, 2)) || '-' || lpad((f.folio_id * 104729 % 1000000)::text, 6, '0') END
FROM folios AS f
JOIN reservations AS r USING (tenant_id, reservation_id)
CROSS JOIN LATERAL (VALUES (1), (2)) AS part(n)
CROSS JOIN LATERAL (SELECT (ARRAY['card', 'card', 'cash', 'bank_transfer'])[(f.folio_id + part.n) % 4 + 1]
                           AS method) AS m
WHERE (r.status = 'checked_out' AND (part.n = 1 OR f.folio_id % 3 = 0))
   OR (r.status IN ('checked_in', 'confirmed') AND part.n = 1 AND f.folio_id % 2 = 0);

-- A folio's balance is what its reservation costs minus what has been paid on it.
UPDATE folios AS f
SET balance = r.total - coalesce((SELECT sum(p.amount) FROM payments AS p
                                  WHERE p.tenant_id = f.tenant_id AND p.folio_id = f.folio_id), 0)
FROM reservations AS r
WHERE r.tenant_id = f.tenant_id AND r.reservation_id = f.reservation_id;

COMMIT;

ANALYZE tenants, properties, rooms, guests, reservations, folios, payments;
