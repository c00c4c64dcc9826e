CREATE TABLE "jira_issue_keys" (
	"issue_id" text PRIMARY KEY NOT NULL,
	"issue_key" text NOT NULL,
	"project_key" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "jira_users" (
	"account_id" text PRIMARY KEY NOT NULL,
	"display_name" text NOT NULL,
	"email" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "job_chunks" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"job_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"scope" jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"cursor" jsonb,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer DEFAULT 8 NOT NULL,
	"run_after" timestamp with time zone DEFAULT now() NOT NULL,
	"lease_token" uuid,
	"lease_expires_at" timestamp with time zone,
	"items_fetched" bigint DEFAULT 0 NOT NULL,
	"items_written" bigint DEFAULT 0 NOT NULL,
	"items_failed" bigint DEFAULT 0 NOT NULL,
	"last_error" text,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "job_chunks_status_check" CHECK ("job_chunks"."status" in ('queued', 'running', 'succeeded', 'failed', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"kind" text NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"dedupe_key" text,
	"run_key" text,
	"created_by" text NOT NULL,
	"cancel_requested_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "jobs_status_check" CHECK ("jobs"."status" in ('queued', 'running', 'succeeded', 'failed', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "projects" (
	"key" text PRIMARY KEY NOT NULL,
	"name" text DEFAULT '' NOT NULL,
	"jira_id" text,
	"is_active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "projects_key_check" CHECK ("projects"."key" ~ '^[A-Z][A-Z0-9_]*$')
);
--> statement-breakpoint
CREATE TABLE "sync_state" (
	"source" text NOT NULL,
	"scope" text DEFAULT '' NOT NULL,
	"watermark" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sync_state_source_scope_pk" PRIMARY KEY("source","scope")
);
--> statement-breakpoint
CREATE TABLE "tempo_worklogs" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "tempo_worklogs_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"worklog_id" text NOT NULL,
	"account_id" text NOT NULL,
	"issue_id" text NOT NULL,
	"issue_key" text NOT NULL,
	"epic_key" text,
	"project_key" text NOT NULL,
	"start_date" date NOT NULL,
	"start_time" text,
	"hours" double precision NOT NULL,
	"time_spent_seconds" integer NOT NULL,
	"user_display_name" text NOT NULL,
	"team" text,
	"description" text DEFAULT '' NOT NULL,
	"tempo_updated_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tempo_worklogs_worklog_id_unique" UNIQUE("worklog_id")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"google_sub" text,
	"email" text NOT NULL,
	"name" text DEFAULT '' NOT NULL,
	"role" text DEFAULT 'no_access' NOT NULL,
	"is_active" boolean DEFAULT true NOT NULL,
	"token_version" integer DEFAULT 0 NOT NULL,
	"last_login_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "users_google_sub_unique" UNIQUE("google_sub"),
	CONSTRAINT "users_role_check" CHECK ("users"."role" in ('no_access', 'member', 'admin'))
);
--> statement-breakpoint
ALTER TABLE "job_chunks" ADD CONSTRAINT "job_chunks_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "job_chunks_job_seq_key" ON "job_chunks" USING btree ("job_id","seq");--> statement-breakpoint
CREATE INDEX "job_chunks_claim_idx" ON "job_chunks" USING btree ("run_after","job_id","seq") WHERE "job_chunks"."status" = 'queued';--> statement-breakpoint
CREATE INDEX "job_chunks_lease_idx" ON "job_chunks" USING btree ("lease_expires_at") WHERE "job_chunks"."status" = 'running';--> statement-breakpoint
CREATE INDEX "job_chunks_open_idx" ON "job_chunks" USING btree ("job_id") WHERE "job_chunks"."status" in ('queued', 'running');--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_active_dedupe_key" ON "jobs" USING btree ("dedupe_key") WHERE "jobs"."status" in ('queued', 'running');--> statement-breakpoint
CREATE UNIQUE INDEX "jobs_run_key" ON "jobs" USING btree ("run_key");--> statement-breakpoint
CREATE INDEX "jobs_kind_created_idx" ON "jobs" USING btree ("kind","created_at");--> statement-breakpoint
CREATE INDEX "jobs_status_finished_idx" ON "jobs" USING btree ("status","finished_at");--> statement-breakpoint
CREATE INDEX "tempo_worklogs_account_id_idx" ON "tempo_worklogs" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "tempo_worklogs_issue_key_idx" ON "tempo_worklogs" USING btree ("issue_key");--> statement-breakpoint
CREATE INDEX "tempo_worklogs_epic_key_idx" ON "tempo_worklogs" USING btree ("epic_key");--> statement-breakpoint
CREATE INDEX "tempo_worklogs_project_key_idx" ON "tempo_worklogs" USING btree ("project_key");--> statement-breakpoint
CREATE INDEX "tempo_worklogs_start_date_idx" ON "tempo_worklogs" USING btree ("start_date");--> statement-breakpoint
CREATE INDEX "tempo_worklogs_team_idx" ON "tempo_worklogs" USING btree ("team");--> statement-breakpoint
CREATE INDEX "tempo_worklogs_project_start_idx" ON "tempo_worklogs" USING btree ("project_key","start_date");--> statement-breakpoint
CREATE INDEX "tempo_worklogs_epic_start_idx" ON "tempo_worklogs" USING btree ("epic_key","start_date");--> statement-breakpoint
CREATE INDEX "tempo_worklogs_team_start_idx" ON "tempo_worklogs" USING btree ("team","start_date");--> statement-breakpoint
CREATE INDEX "tempo_worklogs_account_team_idx" ON "tempo_worklogs" USING btree ("account_id","team");--> statement-breakpoint
CREATE UNIQUE INDEX "users_email_lower_key" ON "users" USING btree (lower("email"));