DROP INDEX "job_chunks_claim_idx";--> statement-breakpoint
ALTER TABLE "jira_issue_keys" ADD COLUMN "project_id" text;--> statement-breakpoint
ALTER TABLE "jira_issue_keys" ADD COLUMN "vector_key" text;--> statement-breakpoint
ALTER TABLE "jira_issue_keys" ADD COLUMN "vector_updated_ms" bigint;--> statement-breakpoint
ALTER TABLE "job_chunks" ADD COLUMN "priority" smallint DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "job_chunks" ADD COLUMN "warning" text;--> statement-breakpoint
CREATE INDEX "jira_issue_keys_issue_key_idx" ON "jira_issue_keys" USING btree ("issue_key");--> statement-breakpoint
CREATE INDEX "job_chunks_claim_idx" ON "job_chunks" USING btree ("priority","run_after","job_id","seq") WHERE "job_chunks"."queued";