DROP INDEX "job_chunks_claim_idx";--> statement-breakpoint
ALTER TABLE "job_chunks" ADD COLUMN "queued" boolean GENERATED ALWAYS AS (status = 'queued') STORED;--> statement-breakpoint
CREATE INDEX "job_chunks_claim_idx" ON "job_chunks" USING btree ("run_after","job_id","seq") WHERE "job_chunks"."queued";