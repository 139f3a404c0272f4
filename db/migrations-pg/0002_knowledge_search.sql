-- Full-text search over the knowledge base: a tsvector the database computes from each
-- article (so no code can forget to index) with a GIN index. Title weighs most (A), then
-- tags (B), then body (C), as the SQLite FTS5 ranking does. English stemming stands in for
-- FTS5's porter tokenizer: "connecting" finds "connection".
ALTER TABLE "knowledge_articles" ADD COLUMN "search" tsvector GENERATED ALWAYS AS (
  setweight(to_tsvector('english', "title"), 'A')
  || setweight(to_tsvector('english', "tags"), 'B')
  || setweight(to_tsvector('english', "body"), 'C')
) STORED;
--> statement-breakpoint
CREATE INDEX "knowledge_articles_search_idx" ON "knowledge_articles" USING gin ("search");
