-- The flights tenant: replaced as a whole once a day (POST /flights), read by GET /flights.
-- Applied in one transaction together with its schema_migrations record; do not edit it once
-- applied anywhere (the checksum would no longer match): add 0002_... instead. Transaction
-- control (BEGIN/COMMIT) is not allowed here: every request already is one transaction.

CREATE TABLE flights (
  id INTEGER PRIMARY KEY,
  uuid TEXT NOT NULL UNIQUE,
  date TEXT NOT NULL CHECK (date GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]'),
  origin TEXT NOT NULL,
  destination TEXT NOT NULL,
  airline TEXT NOT NULL,
  duration TEXT,
  flight_type TEXT,
  price_inr INTEGER NOT NULL CHECK (price_inr >= 0),
  origin_country TEXT,
  destination_country TEXT,
  link TEXT,
  rain_probability REAL CHECK (rain_probability BETWEEN 0 AND 1),
  free_meal INTEGER NOT NULL DEFAULT 0 CHECK (free_meal IN (0, 1)),
  min_checked_luggage_price INTEGER CHECK (min_checked_luggage_price >= 0),
  -- kilograms
  min_checked_luggage_weight REAL CHECK (min_checked_luggage_weight >= 0),
  total_with_min_luggage INTEGER
);

-- Every index ends (implicitly) with the rowid, i.e. `id`, so each one also delivers the
-- tie-break `..., id` of both sort orders without a sort step:
--   price order: ORDER BY price_inr, date, id      date order: ORDER BY date, price_inr, id
-- Cities are matched with `= ? COLLATE NOCASE`; the index must carry the same collation for
-- SQLite to use it. (NOCASE folds ASCII letters only, which covers the city names we serve.)

-- No filter (the landing page, the hottest query) and max_price, in either order.
CREATE INDEX flights_by_price ON flights (price_inr, date);
CREATE INDEX flights_by_date ON flights (date, price_inr);

-- A route (origin, or origin + destination, optionally + date) in either order.
CREATE INDEX flights_by_route_price ON flights (origin COLLATE NOCASE, destination COLLATE NOCASE, price_inr, date);
CREATE INDEX flights_by_route_date ON flights (origin COLLATE NOCASE, destination COLLATE NOCASE, date, price_inr);

-- "Flights to X" without an origin.
CREATE INDEX flights_by_destination ON flights (destination COLLATE NOCASE, price_inr, date);
