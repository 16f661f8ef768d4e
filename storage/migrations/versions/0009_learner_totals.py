"""learner totals kept on people

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 13:10:00.000000

What /thongke counts of each learner's progress, kept on their `people` row by triggers (issue 10; `Person`,
`StatsRepo._learner_totals`), so the overview is one walk over an index of people instead of joining about 90,000
completed lessons and 50,000 milestone answers to their people each time (250 ms on 100,000 people):

- `lessons_done`, `lessons_assisted`: their completed lesson rows, and of those the ones done with a mentor;
- `lesson_ids`: the ids of those lessons as ",a,b,", NULL when none (tracks are checked against the catalog when
  the overview is computed, so a lesson added to a track changes who finished it, as before);
- `milestone_ids`: the milestones they ever answered "Rồi" (value 1) to, as ",m1,m2,", NULL when none.

The triggers recompute a person's totals from their rows whenever a completed lesson row is inserted, deleted or
changes person, lesson, completion or help; and whenever a milestone "yes" is inserted (appended), deleted or
changed. A step taken (`step_id` updated, a `step_reached` event) runs no statement: the lesson trigger names its
columns, the event trigger's WHEN clause is false. Being triggers, they also see bulk statements, raw SQL and other
processes. `ix_people_totals` (partial: people with something to count) covers what the overview reads, in the
order it groups by (hamlet, age group, milestones); it holds no visit time, so a visit does not touch it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HAS_TOTALS = "lessons_done > 0 OR milestone_ids IS NOT NULL"  # as in storage.models and storage.stats

# ---- SQLite: each trigger's body recomputes from the person's rows ----------------------------------------------

_SQLITE_LESSONS = """
UPDATE people SET
  lessons_done = (SELECT count(*) FROM lesson_progress AS lp
                  WHERE lp.person_id = people.id AND lp.completed_at IS NOT NULL),
  lessons_assisted = (SELECT count(*) FROM lesson_progress AS lp
                      WHERE lp.person_id = people.id AND lp.completed_at IS NOT NULL AND lp.assisted = 1),
  lesson_ids = (SELECT ',' || group_concat(lp.lesson_id, ',') || ',' FROM lesson_progress AS lp
                WHERE lp.person_id = people.id AND lp.completed_at IS NOT NULL)
WHERE id IN ({who})"""
_SQLITE_MILESTONES = """
UPDATE people SET
  milestone_ids = (SELECT ',' || group_concat(step_id, ',') || ',' FROM (
      SELECT DISTINCT e.step_id FROM progress_events AS e  -- "+e.kind": by the person's index, not every milestone
      WHERE e.person_id = people.id AND +e.kind = 'milestone' AND e.value = 1 AND e.step_id IS NOT NULL))
WHERE id IN ({who})"""
_LESSON_CHANGED = ("OLD.person_id IS NOT NEW.person_id OR OLD.lesson_id IS NOT NEW.lesson_id"
                   " OR OLD.completed_at IS NOT NEW.completed_at OR OLD.assisted IS NOT NEW.assisted")
_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER tr_lesson_totals_insert AFTER INSERT ON lesson_progress
        WHEN NEW.completed_at IS NOT NULL
        BEGIN {_SQLITE_LESSONS.format(who="NEW.person_id")}; END""",
    f"""CREATE TRIGGER tr_lesson_totals_update AFTER UPDATE OF person_id, lesson_id, completed_at, assisted
        ON lesson_progress
        WHEN (OLD.completed_at IS NOT NULL OR NEW.completed_at IS NOT NULL) AND ({_LESSON_CHANGED})
        BEGIN {_SQLITE_LESSONS.format(who="OLD.person_id, NEW.person_id")}; END""",
    f"""CREATE TRIGGER tr_lesson_totals_delete AFTER DELETE ON lesson_progress
        WHEN OLD.completed_at IS NOT NULL
        BEGIN {_SQLITE_LESSONS.format(who="OLD.person_id")}; END""",
    """CREATE TRIGGER tr_milestone_totals_insert AFTER INSERT ON progress_events
        WHEN NEW.kind = 'milestone' AND NEW.value = 1 AND NEW.step_id IS NOT NULL
        BEGIN
          UPDATE people SET milestone_ids = coalesce(milestone_ids, ',') || NEW.step_id || ','
          WHERE id = NEW.person_id AND instr(coalesce(milestone_ids, ','), ',' || NEW.step_id || ',') = 0;
        END""",
    f"""CREATE TRIGGER tr_milestone_totals_update AFTER UPDATE OF person_id, kind, step_id, value ON progress_events
        WHEN (OLD.kind = 'milestone' AND OLD.value = 1) OR (NEW.kind = 'milestone' AND NEW.value = 1)
        BEGIN {_SQLITE_MILESTONES.format(who="OLD.person_id, NEW.person_id")}; END""",
    f"""CREATE TRIGGER tr_milestone_totals_delete AFTER DELETE ON progress_events
        WHEN OLD.kind = 'milestone' AND OLD.value = 1
        BEGIN {_SQLITE_MILESTONES.format(who="OLD.person_id")}; END""",
]

# ---- PostgreSQL: the same, as functions ---------------------------------------------------------------------------

_PG_FUNCTIONS = [
    """CREATE FUNCTION hocvuso_lesson_totals(pid bigint) RETURNS void LANGUAGE sql AS $$
        UPDATE people SET (lessons_done, lessons_assisted, lesson_ids) = (
          SELECT count(*), count(*) FILTER (WHERE lp.assisted),
                 ',' || string_agg(lp.lesson_id, ',' ORDER BY lp.lesson_id) || ','
          FROM lesson_progress AS lp WHERE lp.person_id = pid AND lp.completed_at IS NOT NULL)
        WHERE id = pid
    $$""",
    """CREATE FUNCTION hocvuso_milestone_totals(pid bigint) RETURNS void LANGUAGE sql AS $$
        UPDATE people SET milestone_ids = (
          SELECT ',' || string_agg(DISTINCT e.step_id, ',' ORDER BY e.step_id) || ','
          FROM progress_events AS e
          WHERE e.person_id = pid AND e.kind = 'milestone' AND e.value = 1 AND e.step_id IS NOT NULL)
        WHERE id = pid
    $$""",
    """CREATE FUNCTION hocvuso_lesson_totals_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' THEN
            PERFORM hocvuso_lesson_totals(NEW.person_id);
          ELSIF TG_OP = 'DELETE' THEN
            PERFORM hocvuso_lesson_totals(OLD.person_id);
          ELSE
            PERFORM hocvuso_lesson_totals(OLD.person_id);
            IF NEW.person_id <> OLD.person_id THEN
              PERFORM hocvuso_lesson_totals(NEW.person_id);
            END IF;
          END IF;
          RETURN NULL;
        END
    $$""",
    """CREATE FUNCTION hocvuso_milestone_totals_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' THEN
            UPDATE people SET milestone_ids = coalesce(milestone_ids, ',') || NEW.step_id || ','
            WHERE id = NEW.person_id AND strpos(coalesce(milestone_ids, ','), ',' || NEW.step_id || ',') = 0;
          ELSIF TG_OP = 'DELETE' THEN
            PERFORM hocvuso_milestone_totals(OLD.person_id);
          ELSE
            PERFORM hocvuso_milestone_totals(OLD.person_id);
            IF NEW.person_id <> OLD.person_id THEN
              PERFORM hocvuso_milestone_totals(NEW.person_id);
            END IF;
          END IF;
          RETURN NULL;
        END
    $$""",
]
_PG_LESSON_CHANGED = ("OLD.person_id IS DISTINCT FROM NEW.person_id OR OLD.lesson_id IS DISTINCT FROM NEW.lesson_id"
                      " OR OLD.completed_at IS DISTINCT FROM NEW.completed_at"
                      " OR OLD.assisted IS DISTINCT FROM NEW.assisted")
_PG_TRIGGERS = [
    """CREATE TRIGGER tr_lesson_totals_insert AFTER INSERT ON lesson_progress FOR EACH ROW
        WHEN (NEW.completed_at IS NOT NULL) EXECUTE FUNCTION hocvuso_lesson_totals_changed()""",
    f"""CREATE TRIGGER tr_lesson_totals_update AFTER UPDATE OF person_id, lesson_id, completed_at, assisted
        ON lesson_progress FOR EACH ROW
        WHEN ((OLD.completed_at IS NOT NULL OR NEW.completed_at IS NOT NULL) AND ({_PG_LESSON_CHANGED}))
        EXECUTE FUNCTION hocvuso_lesson_totals_changed()""",
    """CREATE TRIGGER tr_lesson_totals_delete AFTER DELETE ON lesson_progress FOR EACH ROW
        WHEN (OLD.completed_at IS NOT NULL) EXECUTE FUNCTION hocvuso_lesson_totals_changed()""",
    """CREATE TRIGGER tr_milestone_totals_insert AFTER INSERT ON progress_events FOR EACH ROW
        WHEN (NEW.kind = 'milestone' AND NEW.value = 1 AND NEW.step_id IS NOT NULL)
        EXECUTE FUNCTION hocvuso_milestone_totals_changed()""",
    """CREATE TRIGGER tr_milestone_totals_update AFTER UPDATE OF person_id, kind, step_id, value
        ON progress_events FOR EACH ROW
        WHEN ((OLD.kind = 'milestone' AND OLD.value = 1) OR (NEW.kind = 'milestone' AND NEW.value = 1))
        EXECUTE FUNCTION hocvuso_milestone_totals_changed()""",
    """CREATE TRIGGER tr_milestone_totals_delete AFTER DELETE ON progress_events FOR EACH ROW
        WHEN (OLD.kind = 'milestone' AND OLD.value = 1) EXECUTE FUNCTION hocvuso_milestone_totals_changed()""",
]
_TRIGGERS = [("tr_lesson_totals_insert", "lesson_progress"), ("tr_lesson_totals_update", "lesson_progress"),
             ("tr_lesson_totals_delete", "lesson_progress"), ("tr_milestone_totals_insert", "progress_events"),
             ("tr_milestone_totals_update", "progress_events"), ("tr_milestone_totals_delete", "progress_events")]
_PG_FUNCTION_NAMES = ["hocvuso_lesson_totals_changed()", "hocvuso_milestone_totals_changed()",
                      "hocvuso_lesson_totals(bigint)", "hocvuso_milestone_totals(bigint)"]

# ---- PostgreSQL: the totals of existing rows, one pass each -------------------------------------------------------

_BACKFILL_LESSONS = """
UPDATE people SET lessons_done = t.done, lessons_assisted = t.assisted, lesson_ids = t.ids
FROM (SELECT lp.person_id, count(*) AS done, count(*) FILTER (WHERE lp.assisted) AS assisted,
             ',' || string_agg(lp.lesson_id, ',' ORDER BY lp.lesson_id) || ',' AS ids
      FROM lesson_progress AS lp WHERE lp.completed_at IS NOT NULL GROUP BY lp.person_id) AS t
WHERE people.id = t.person_id"""
_BACKFILL_MILESTONES = """
UPDATE people SET milestone_ids = t.ids
FROM (SELECT m.person_id, ',' || string_agg(m.step_id, ',' ORDER BY m.step_id) || ',' AS ids
      FROM (SELECT DISTINCT e.person_id, e.step_id FROM progress_events AS e
            WHERE e.kind = 'milestone' AND e.value = 1 AND e.step_id IS NOT NULL) AS m
      GROUP BY m.person_id) AS t
WHERE people.id = t.person_id"""


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("people", sa.Column("lessons_done", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("people", sa.Column("lessons_assisted", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("people", sa.Column("lesson_ids", sa.Text(), nullable=True))
    op.add_column("people", sa.Column("milestone_ids", sa.Text(), nullable=True))
    if sqlite:  # the triggers' own statements for everyone with rows (UPDATE … FROM needs SQLite 3.33)
        op.execute(_SQLITE_LESSONS.format(who="SELECT person_id FROM lesson_progress WHERE completed_at IS NOT NULL"))
        op.execute(_SQLITE_MILESTONES.format(
            who="SELECT person_id FROM progress_events WHERE kind = 'milestone' AND value = 1"))
    else:
        op.execute(_BACKFILL_LESSONS)
        op.execute(_BACKFILL_MILESTONES)
    for statement in _SQLITE_TRIGGERS if sqlite else [*_PG_FUNCTIONS, *_PG_TRIGGERS]:
        op.execute(statement)
    op.create_index("ix_people_totals", "people",
                    ["commune_id", "is_official", "hamlet_id", "age_group", "milestone_ids", "lessons_done",
                     "lessons_assisted", "lesson_ids"],
                    sqlite_where=sa.text(HAS_TOTALS), postgresql_where=sa.text(HAS_TOTALS))


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index("ix_people_totals", table_name="people")
    for name, table in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + ("" if sqlite else f" ON {table}"))
    if not sqlite:
        for function in _PG_FUNCTION_NAMES:
            op.execute(f"DROP FUNCTION IF EXISTS {function}")
    # Not batch mode: on SQLite that copies `people` into a new table and drops the old one, and dropping it with
    # foreign keys on deletes every row that references a person (ON DELETE CASCADE: progress, events, help
    # requests). ALTER TABLE … DROP COLUMN (SQLite 3.35+) keeps the table.
    for column in ("milestone_ids", "lesson_ids", "lessons_assisted", "lessons_done"):
        op.drop_column("people", column)
