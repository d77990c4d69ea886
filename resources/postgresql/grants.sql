-- The triage app's privileges for the group role of its users (triage_app/storage/server_grants.py).
-- Run after `triage-app migrate` created or upgraded the schema, as the tables' owner or a superuser:
--   psql -v user_role=triage_user -v owner_role=triage_owner -d triage -f grants.sql
-- (`triage-app migrate --grant-to triage_user` runs the same statements in its own transaction.)

GRANT USAGE ON SCHEMA public TO :"user_role";
-- alembic_version: the schema revision: read on every start, changed only by migrate
REVOKE ALL ON TABLE public.alembic_version FROM :"user_role";
GRANT SELECT ON TABLE public.alembic_version TO :"user_role";
-- app_setting: the database id is written afresh
REVOKE ALL ON TABLE public.app_setting FROM :"user_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.app_setting TO :"user_role";
-- app_user: users are deactivated, never deleted
REVOKE ALL ON TABLE public.app_user FROM :"user_role";
GRANT SELECT, INSERT, UPDATE ON TABLE public.app_user TO :"user_role";
-- user_role: replaced; locked FOR UPDATE (needs UPDATE)
REVOKE ALL ON TABLE public.user_role FROM :"user_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.user_role TO :"user_role";
-- referral: referrals are never deleted
REVOKE ALL ON TABLE public.referral FROM :"user_role";
GRANT SELECT, INSERT, UPDATE ON TABLE public.referral TO :"user_role";
-- oral_medication: the list is replaced on save
REVOKE ALL ON TABLE public.oral_medication FROM :"user_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.oral_medication TO :"user_role";
-- phenotype_component: the list is replaced on save
REVOKE ALL ON TABLE public.phenotype_component FROM :"user_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.phenotype_component TO :"user_role";
-- assessment: the current assessment is marked superseded
REVOKE ALL ON TABLE public.assessment FROM :"user_role";
GRANT SELECT, INSERT, UPDATE ON TABLE public.assessment TO :"user_role";
-- assessment_criterion: written with its assessment
REVOKE ALL ON TABLE public.assessment_criterion FROM :"user_role";
GRANT SELECT, INSERT ON TABLE public.assessment_criterion TO :"user_role";
-- assessment_flag: written with its assessment
REVOKE ALL ON TABLE public.assessment_flag FROM :"user_role";
GRANT SELECT, INSERT ON TABLE public.assessment_flag TO :"user_role";
-- assessment_missing: written with its assessment
REVOKE ALL ON TABLE public.assessment_missing FROM :"user_role";
GRANT SELECT, INSERT ON TABLE public.assessment_missing TO :"user_role";
-- triage_decision: a decision is superseded, never deleted
REVOKE ALL ON TABLE public.triage_decision FROM :"user_role";
GRANT SELECT, INSERT, UPDATE ON TABLE public.triage_decision TO :"user_role";
-- status_change: the status history is appended to
REVOKE ALL ON TABLE public.status_change FROM :"user_role";
GRANT SELECT, INSERT ON TABLE public.status_change TO :"user_role";
-- audit_event: append-only: the server refuses UPDATE and DELETE
REVOKE ALL ON TABLE public.audit_event FROM :"user_role";
GRANT SELECT, INSERT ON TABLE public.audit_event TO :"user_role";
-- audit_chain_head: moved forward by each event; schema 0005's triggers guard it
REVOKE ALL ON TABLE public.audit_chain_head FROM :"user_role";
GRANT SELECT, INSERT, UPDATE ON TABLE public.audit_chain_head TO :"user_role";
-- meeting: meetings are cancelled, never deleted
REVOKE ALL ON TABLE public.meeting FROM :"user_role";
GRANT SELECT, INSERT, UPDATE ON TABLE public.meeting TO :"user_role";
-- meeting_attendee: a meeting's attendees are replaced
REVOKE ALL ON TABLE public.meeting_attendee FROM :"user_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.meeting_attendee TO :"user_role";
-- meeting_case: a case is taken off a meeting
REVOKE ALL ON TABLE public.meeting_case FROM :"user_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.meeting_case TO :"user_role";
-- case_action: a case's actions are replaced
REVOKE ALL ON TABLE public.case_action FROM :"user_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.case_action TO :"user_role";
-- approved_rules: every approval is kept
REVOKE ALL ON TABLE public.approved_rules FROM :"user_role";
GRANT SELECT, INSERT ON TABLE public.approved_rules TO :"user_role";
-- referral_search_key: a referral's search keys are replaced when its name or NHS number changes (schema 0011)
REVOKE ALL ON TABLE public.referral_search_key FROM :"user_role";
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.referral_search_key TO :"user_role";
-- Ids come from each table's sequence; setval (bulk loads: demo data, imports) needs UPDATE on it.
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO :"user_role";
-- The owner role gives up changing the audit trail too (only a deliberate GRANT by the owner gives it back).
REVOKE UPDATE, DELETE, TRUNCATE ON TABLE public.audit_event FROM :"owner_role";
REVOKE DELETE, TRUNCATE ON TABLE public.audit_chain_head FROM :"owner_role";
