"""Database triggers that keep the personal-information access log append-only, like the security audit
log (accounts/0002_audit_append_only): no UPDATE ever, and no DELETE of a row younger than 183 days
(the six months of 《网络安全法》 Art. 21), whatever client issues the SQL."""

from django.db import migrations

MESSAGE = "the personal-information access log is append-only"
SQLITE_UP = [
    f"""
    CREATE TRIGGER registry_piiaccesslog_no_update BEFORE UPDATE ON registry_piiaccesslog
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
    """,
    f"""
    CREATE TRIGGER registry_piiaccesslog_no_delete BEFORE DELETE ON registry_piiaccesslog
    WHEN OLD.at > datetime('now', '-183 days')
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END;
    """,
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS registry_piiaccesslog_no_update;",
    "DROP TRIGGER IF EXISTS registry_piiaccesslog_no_delete;",
]
POSTGRES_UP = [
    f"""
    CREATE OR REPLACE FUNCTION registry_piiaccesslog_guard() RETURNS trigger AS $$
    BEGIN
        IF TG_OP = 'UPDATE' THEN
            RAISE EXCEPTION '{MESSAGE}';
        END IF;
        IF TG_OP = 'DELETE' AND OLD.at > now() - interval '183 days' THEN
            RAISE EXCEPTION '{MESSAGE}';
        END IF;
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql;
    """,
    """
    CREATE TRIGGER registry_piiaccesslog_guard BEFORE UPDATE OR DELETE ON registry_piiaccesslog
    FOR EACH ROW EXECUTE FUNCTION registry_piiaccesslog_guard();
    """,
]
POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS registry_piiaccesslog_guard ON registry_piiaccesslog;",
    "DROP FUNCTION IF EXISTS registry_piiaccesslog_guard();",
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
    dependencies = [("registry", "0002_timeline_chain")]
    operations = [migrations.RunPython(forwards, backwards)]
