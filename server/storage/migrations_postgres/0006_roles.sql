-- Adds the mentor role, a volunteer who may read along with a colleague's chat
-- (migrations/0006_roles.sql). SQLite rebuilds both tables to change the CHECK; PostgreSQL
-- changes the named constraints in place, and rows and references stay as they are.
ALTER TABLE invitations DROP CONSTRAINT invitations_role,
    ADD CONSTRAINT invitations_role CHECK (role IN ('volunteer', 'mentor', 'partner', 'coordinator'));
ALTER TABLE volunteers DROP CONSTRAINT volunteers_role,
    ADD CONSTRAINT volunteers_role CHECK (role IN ('volunteer', 'mentor', 'partner', 'coordinator'));
