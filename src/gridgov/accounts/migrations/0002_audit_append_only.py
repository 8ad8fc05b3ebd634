"""Database triggers that keep the security audit log append-only: no UPDATE ever, and no DELETE of a
record younger than the retention period (183 days ≥ the 6 months of 《网络安全法》 Art. 21)."""

from django.db import migrations

SQLITE_UP = [
    """
    CREATE TRIGGER accounts_auditevent_no_update BEFORE UPDATE ON accounts_auditevent
    BEGIN SELECT RAISE(ABORT, 'the security audit log is append-only'); END;
    """,
    """
    CREATE TRIGGER accounts_auditevent_no_delete BEFORE DELETE ON accounts_auditevent
    WHEN OLD.at > datetime('now', '-183 days')
    BEGIN SELECT RAISE(ABORT, 'the security audit log is append-only'); END;
    """,
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS accounts_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS accounts_auditevent_no_delete;",
]
POSTGRES_UP = [
    """
    CREATE OR REPLACE FUNCTION accounts_auditevent_guard() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            RAISE EXCEPTION 'the security audit log is append-only';
        END IF;
        IF TG_OP = 'DELETE' AND OLD.at > now() - interval '183 days' THEN
            RAISE EXCEPTION 'the security audit log is append-only';
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER accounts_auditevent_guard BEFORE UPDATE OR DELETE ON accounts_auditevent
    FOR EACH ROW EXECUTE FUNCTION accounts_auditevent_guard();
    """,
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS accounts_auditevent_guard ON accounts_auditevent;",
    "DROP FUNCTION IF EXISTS accounts_auditevent_guard();",
]


def forwards(apps, schema_editor):
    statements = {"sqlite": SQLITE_UP, "postgresql": POSTGRES_UP}.get(schema_editor.connection.vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


def backwards(apps, schema_editor):
    statements = {"sqlite": SQLITE_DOWN, "postgresql": POSTGRES_DOWN}.get(schema_editor.connection.vendor, [])
    for sql in statements:
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
