-- hocvuso: the SQLite schema at revision 0009, written by `python -m storage.sqlite_schema`.
CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
INSERT INTO "alembic_version" VALUES('0009');
CREATE TABLE anonymous_counts (
	commune_id INTEGER NOT NULL, 
	figure VARCHAR(16) NOT NULL, 
	hamlet_id INTEGER NOT NULL, 
	age_group VARCHAR(16) NOT NULL, 
	"key" VARCHAR(24) NOT NULL, 
	month DATETIME NOT NULL, 
	count INTEGER NOT NULL, 
	PRIMARY KEY (commune_id, figure, hamlet_id, age_group, "key", month), 
	FOREIGN KEY(commune_id) REFERENCES communes (id) ON DELETE CASCADE
)
 WITHOUT ROWID

;
CREATE TABLE broadcasts (
	id INTEGER NOT NULL, 
	commune_id INTEGER NOT NULL, 
	author_id INTEGER, 
	text TEXT NOT NULL, 
	photo VARCHAR(64), 
	audience VARCHAR(32) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	total INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	confirmed_at DATETIME, 
	finished_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(author_id) REFERENCES people (id) ON DELETE SET NULL, 
	FOREIGN KEY(commune_id) REFERENCES communes (id)
);
CREATE TABLE certificates (
	id INTEGER NOT NULL, 
	person_id INTEGER NOT NULL, 
	code_hash VARCHAR(64) NOT NULL, 
	name VARCHAR(80) NOT NULL, 
	track_id VARCHAR(24) NOT NULL, 
	track_title VARCHAR(120) NOT NULL, 
	commune_name VARCHAR(120) NOT NULL, 
	issued_on DATE NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE, 
	UNIQUE (code_hash)
);
CREATE TABLE communes (
	id INTEGER NOT NULL, 
	name VARCHAR(120) NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name)
);
CREATE TABLE consent_records (
	id INTEGER NOT NULL, 
	person_ref VARCHAR(160) NOT NULL, 
	channel VARCHAR(16) NOT NULL, 
	purpose VARCHAR(32) NOT NULL, 
	text_version VARCHAR(16) NOT NULL, 
	text_hash VARCHAR(64) NOT NULL, 
	granted BOOLEAN NOT NULL, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (id)
);
CREATE TABLE contest_entries (
	contest_id INTEGER NOT NULL, 
	person_id INTEGER NOT NULL, 
	score INTEGER NOT NULL, 
	answered INTEGER NOT NULL, 
	seconds INTEGER, 
	started_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	PRIMARY KEY (contest_id, person_id), 
	FOREIGN KEY(contest_id) REFERENCES contests (id) ON DELETE CASCADE, 
	FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE
);
CREATE TABLE contests (
	id INTEGER NOT NULL, 
	commune_id INTEGER NOT NULL, 
	title VARCHAR(200) NOT NULL, 
	questions JSON NOT NULL, 
	starts_at DATETIME NOT NULL, 
	ends_at DATETIME NOT NULL, 
	created_by INTEGER, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(commune_id) REFERENCES communes (id), 
	FOREIGN KEY(created_by) REFERENCES people (id) ON DELETE SET NULL
);
CREATE TABLE data_requests (
	id INTEGER NOT NULL, 
	ref_hash VARCHAR(64) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	requested_at DATETIME NOT NULL, 
	due_at DATETIME NOT NULL, 
	done_at DATETIME, 
	PRIMARY KEY (id)
);
CREATE TABLE escalations (
	id INTEGER NOT NULL, 
	person_id INTEGER NOT NULL, 
	commune_id INTEGER NOT NULL, 
	hamlet_id INTEGER, 
	age_group VARCHAR(16), 
	lesson_id VARCHAR(24), 
	step_id VARCHAR(16), 
	kind VARCHAR(16) NOT NULL, 
	question TEXT NOT NULL, 
	context JSON NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	level INTEGER NOT NULL, 
	claimed_by INTEGER, 
	created_at DATETIME NOT NULL, 
	claimed_at DATETIME, 
	resolved_at DATETIME, 
	rating INTEGER, 
	reopened INTEGER NOT NULL, 
	phone_shared BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(claimed_by) REFERENCES people (id) ON DELETE SET NULL, 
	FOREIGN KEY(commune_id) REFERENCES communes (id), 
	FOREIGN KEY(hamlet_id) REFERENCES hamlets (id), 
	FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE
);
CREATE TABLE hamlets (
	id INTEGER NOT NULL, 
	commune_id INTEGER NOT NULL, 
	name VARCHAR(120) NOT NULL, 
	position INTEGER NOT NULL, 
	active BOOLEAN NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(commune_id) REFERENCES communes (id) ON DELETE CASCADE
);
CREATE TABLE inbox_keys (
	key_hash VARCHAR(64) NOT NULL, 
	received_at DATETIME NOT NULL, 
	PRIMARY KEY (key_hash)
);
CREATE TABLE invites (
	id INTEGER NOT NULL, 
	code_hash VARCHAR(64) NOT NULL, 
	role VARCHAR(16) NOT NULL, 
	commune_id INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	expires_at DATETIME NOT NULL, 
	used_at DATETIME, 
	used_by INTEGER, 
	PRIMARY KEY (id), 
	FOREIGN KEY(commune_id) REFERENCES communes (id), 
	FOREIGN KEY(used_by) REFERENCES people (id) ON DELETE SET NULL, 
	UNIQUE (code_hash)
);
CREATE TABLE jobs (
	id INTEGER NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	run_at DATETIME NOT NULL, 
	payload JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	done_at DATETIME, 
	PRIMARY KEY (id)
);
CREATE TABLE "lesson_progress" (
	id INTEGER NOT NULL, 
	person_id INTEGER NOT NULL, 
	lesson_id VARCHAR(24) NOT NULL, 
	step_id VARCHAR(16), 
	started_at DATETIME NOT NULL, 
	completed_at DATETIME, 
	best_score INTEGER NOT NULL, 
	attempts INTEGER NOT NULL, 
	assisted BOOLEAN DEFAULT 0 NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE
);
CREATE TABLE media_files (
	token VARCHAR(64) NOT NULL, 
	content_type VARCHAR(64) NOT NULL, 
	data BLOB NOT NULL, 
	created_at DATETIME NOT NULL, 
	expires_at DATETIME NOT NULL, 
	PRIMARY KEY (token)
);
CREATE TABLE meetings (
	id INTEGER NOT NULL, 
	escalation_id INTEGER NOT NULL, 
	mentor_id INTEGER, 
	person_id INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	place VARCHAR(200) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	notes TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(escalation_id) REFERENCES escalations (id) ON DELETE CASCADE, 
	FOREIGN KEY(mentor_id) REFERENCES people (id) ON DELETE SET NULL, 
	FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE
);
CREATE TABLE mentor_hamlets (
	person_id INTEGER NOT NULL, 
	hamlet_id INTEGER NOT NULL, 
	PRIMARY KEY (person_id, hamlet_id), 
	FOREIGN KEY(hamlet_id) REFERENCES hamlets (id) ON DELETE CASCADE, 
	FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE
);
CREATE TABLE outbox (
	id INTEGER NOT NULL, 
	person_ref VARCHAR(160) NOT NULL, 
	payload TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	attempts INTEGER NOT NULL, 
	next_attempt_at DATETIME NOT NULL, 
	last_error VARCHAR(300), broadcast_id INTEGER, 
	PRIMARY KEY (id)
);
CREATE TABLE "people" (
	id INTEGER NOT NULL, 
	ref VARCHAR(160) NOT NULL, 
	commune_id INTEGER NOT NULL, 
	hamlet_id INTEGER, 
	age_group VARCHAR(16), 
	guardian_confirmed BOOLEAN NOT NULL, 
	is_mentor BOOLEAN NOT NULL, 
	is_official BOOLEAN NOT NULL, 
	state JSON NOT NULL, 
	created_at DATETIME NOT NULL, 
	last_seen_at DATETIME NOT NULL, 
	unreachable_since DATETIME, 
	mentor_paused BOOLEAN DEFAULT 0 NOT NULL, 
	display_name VARCHAR(60), 
	announcements_off BOOLEAN DEFAULT 0 NOT NULL, lessons_done INTEGER DEFAULT '0' NOT NULL, lessons_assisted INTEGER DEFAULT '0' NOT NULL, lesson_ids TEXT, milestone_ids TEXT, 
	PRIMARY KEY (id), 
	FOREIGN KEY(commune_id) REFERENCES communes (id), 
	FOREIGN KEY(hamlet_id) REFERENCES hamlets (id), 
	UNIQUE (ref)
);
CREATE TABLE "progress_events" (
	id INTEGER NOT NULL, 
	person_id INTEGER NOT NULL, 
	kind VARCHAR(32) NOT NULL, 
	lesson_id VARCHAR(24), 
	step_id VARCHAR(16), 
	value INTEGER, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE
);
CREATE TABLE training_days (
	id INTEGER NOT NULL, 
	commune_id INTEGER NOT NULL, 
	hamlet_id INTEGER, 
	title VARCHAR(200) NOT NULL, 
	place VARCHAR(200) NOT NULL, 
	at DATETIME NOT NULL, 
	created_by INTEGER, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(commune_id) REFERENCES communes (id), 
	FOREIGN KEY(created_by) REFERENCES people (id) ON DELETE SET NULL, 
	FOREIGN KEY(hamlet_id) REFERENCES hamlets (id)
);
CREATE TABLE training_registrations (
	training_id INTEGER NOT NULL, 
	person_id INTEGER NOT NULL, 
	at DATETIME NOT NULL, 
	PRIMARY KEY (training_id, person_id), 
	FOREIGN KEY(person_id) REFERENCES people (id) ON DELETE CASCADE, 
	FOREIGN KEY(training_id) REFERENCES training_days (id) ON DELETE CASCADE
);
CREATE INDEX ix_consent_ref_purpose ON consent_records (person_ref, purpose, id);
CREATE INDEX ix_data_requests_ref_hash ON data_requests (ref_hash);
CREATE INDEX ix_inbox_keys_received_at ON inbox_keys (received_at);
CREATE INDEX ix_outbox_due ON outbox (next_attempt_at);
CREATE INDEX ix_outbox_person_ref ON outbox (person_ref);
CREATE UNIQUE INDEX ix_hamlets_commune_name ON hamlets (commune_id, name);
CREATE INDEX ix_media_files_expires_at ON media_files (expires_at);
CREATE INDEX ix_jobs_due ON jobs (done_at, run_at);
CREATE INDEX ix_escalations_claimed_by ON escalations (claimed_by);
CREATE INDEX ix_escalations_person_id ON escalations (person_id);
CREATE INDEX ix_escalations_status_created ON escalations (status, created_at);
CREATE INDEX ix_mentor_hamlets_hamlet_id ON mentor_hamlets (hamlet_id);
CREATE INDEX ix_meetings_escalation_id ON meetings (escalation_id);
CREATE INDEX ix_lesson_progress_lesson_id ON lesson_progress (lesson_id);
CREATE INDEX ix_lesson_progress_completed_at ON lesson_progress (completed_at);
CREATE UNIQUE INDEX ix_progress_person_lesson ON lesson_progress (person_id, lesson_id);
CREATE INDEX ix_certificates_person_id ON certificates (person_id);
CREATE INDEX ix_training_days_at ON training_days (at);
CREATE INDEX ix_contest_entries_rank ON contest_entries (contest_id, score, seconds);
CREATE INDEX ix_outbox_broadcast_id ON outbox (broadcast_id);
CREATE INDEX ix_people_hamlet_id ON people (hamlet_id);
CREATE INDEX ix_people_commune_id ON people (commune_id);
CREATE INDEX ix_progress_events_person_id ON progress_events (person_id);
CREATE INDEX ix_events_at_kind ON progress_events (at, kind);
CREATE INDEX ix_events_at_person ON progress_events (at, person_id);
CREATE INDEX ix_events_kind_step ON progress_events (kind, step_id, person_id, value, at);
CREATE INDEX ix_people_learners ON people (commune_id, is_official, hamlet_id, age_group, last_seen_at, created_at);
CREATE INDEX ix_people_mentors ON people (commune_id, is_mentor, mentor_paused);
CREATE INDEX ix_progress_completed ON lesson_progress (person_id, lesson_id, completed_at, assisted) WHERE completed_at IS NOT NULL;
CREATE TRIGGER tr_lesson_totals_insert AFTER INSERT ON lesson_progress
        WHEN NEW.completed_at IS NOT NULL
        BEGIN 
UPDATE people SET
  lessons_done = (SELECT count(*) FROM lesson_progress AS lp
                  WHERE lp.person_id = people.id AND lp.completed_at IS NOT NULL),
  lessons_assisted = (SELECT count(*) FROM lesson_progress AS lp
                      WHERE lp.person_id = people.id AND lp.completed_at IS NOT NULL AND lp.assisted = 1),
  lesson_ids = (SELECT ',' || group_concat(lp.lesson_id, ',') || ',' FROM lesson_progress AS lp
                WHERE lp.person_id = people.id AND lp.completed_at IS NOT NULL)
WHERE id IN (NEW.person_id); END;
CREATE TRIGGER tr_lesson_totals_update AFTER UPDATE OF person_id, lesson_id, completed_at, assisted
        ON lesson_progress
        WHEN (OLD.completed_at IS NOT NULL OR NEW.completed_at IS NOT NULL) AND (OLD.person_id IS NOT NEW.person_id OR OLD.lesson_id IS NOT NEW.lesson_id OR OLD.completed_at IS NOT NEW.completed_at OR OLD.assisted IS NOT NEW.assisted)
        BEGIN 
UPDATE people SET
  lessons_done = (SELECT count(*) FROM lesson_progress AS lp
                  WHERE lp.person_id = people.id AND lp.completed_at IS NOT NULL),
  lessons_assisted = (SELECT count(*) FROM lesson_progress AS lp
                      WHERE lp.person_id = people.id AND lp.completed_at IS NOT NULL AND lp.assisted = 1),
  lesson_ids = (SELECT ',' || group_concat(lp.lesson_id, ',') || ',' FROM lesson_progress AS lp
                WHERE lp.person_id = people.id AND lp.completed_at IS NOT NULL)
WHERE id IN (OLD.person_id, NEW.person_id); END;
CREATE TRIGGER tr_lesson_totals_delete AFTER DELETE ON lesson_progress
        WHEN OLD.completed_at IS NOT NULL
        BEGIN 
UPDATE people SET
  lessons_done = (SELECT count(*) FROM lesson_progress AS lp
                  WHERE lp.person_id = people.id AND lp.completed_at IS NOT NULL),
  lessons_assisted = (SELECT count(*) FROM lesson_progress AS lp
                      WHERE lp.person_id = people.id AND lp.completed_at IS NOT NULL AND lp.assisted = 1),
  lesson_ids = (SELECT ',' || group_concat(lp.lesson_id, ',') || ',' FROM lesson_progress AS lp
                WHERE lp.person_id = people.id AND lp.completed_at IS NOT NULL)
WHERE id IN (OLD.person_id); END;
CREATE TRIGGER tr_milestone_totals_insert AFTER INSERT ON progress_events
        WHEN NEW.kind = 'milestone' AND NEW.value = 1 AND NEW.step_id IS NOT NULL
        BEGIN
          UPDATE people SET milestone_ids = coalesce(milestone_ids, ',') || NEW.step_id || ','
          WHERE id = NEW.person_id AND instr(coalesce(milestone_ids, ','), ',' || NEW.step_id || ',') = 0;
        END;
CREATE TRIGGER tr_milestone_totals_update AFTER UPDATE OF person_id, kind, step_id, value ON progress_events
        WHEN (OLD.kind = 'milestone' AND OLD.value = 1) OR (NEW.kind = 'milestone' AND NEW.value = 1)
        BEGIN 
UPDATE people SET
  milestone_ids = (SELECT ',' || group_concat(step_id, ',') || ',' FROM (
      SELECT DISTINCT e.step_id FROM progress_events AS e  -- "+e.kind": by the person's index, not every milestone
      WHERE e.person_id = people.id AND +e.kind = 'milestone' AND e.value = 1 AND e.step_id IS NOT NULL))
WHERE id IN (OLD.person_id, NEW.person_id); END;
CREATE TRIGGER tr_milestone_totals_delete AFTER DELETE ON progress_events
        WHEN OLD.kind = 'milestone' AND OLD.value = 1
        BEGIN 
UPDATE people SET
  milestone_ids = (SELECT ',' || group_concat(step_id, ',') || ',' FROM (
      SELECT DISTINCT e.step_id FROM progress_events AS e  -- "+e.kind": by the person's index, not every milestone
      WHERE e.person_id = people.id AND +e.kind = 'milestone' AND e.value = 1 AND e.step_id IS NOT NULL))
WHERE id IN (OLD.person_id); END;
CREATE INDEX ix_people_totals ON people (commune_id, is_official, hamlet_id, age_group, milestone_ids, lessons_done, lessons_assisted, lesson_ids) WHERE lessons_done > 0 OR milestone_ids IS NOT NULL;
