-- Every foreign key a delete cascades through has an index on its column.
-- Without one, each cascaded row is found by scanning the whole referencing
-- table: cancelling a booking scanned every access code, and removing 40,000
-- load-test candidates (users → bookings → access codes) took minutes of one
-- core, growing with the square of the count.
CREATE INDEX access_codes_booking_idx ON access_codes (booking_id);
CREATE INDEX exam_sessions_owner_idx ON exam_sessions (owner_id);
