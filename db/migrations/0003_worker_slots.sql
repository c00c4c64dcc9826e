CREATE TABLE "worker_slots" (
	"slot" smallint PRIMARY KEY NOT NULL,
	"holder" uuid,
	"expires_at" timestamp with time zone DEFAULT '-infinity' NOT NULL
);
