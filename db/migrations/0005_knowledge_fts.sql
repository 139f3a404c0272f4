-- Full-text search over the knowledge base (SQLite FTS5, ranked with bm25), kept in
-- step with knowledge_articles by triggers so no code can forget to index.
CREATE VIRTUAL TABLE `knowledge_fts` USING fts5(title, body, tags, content='knowledge_articles', content_rowid='seq', tokenize='porter unicode61');
--> statement-breakpoint
CREATE TRIGGER `knowledge_ai` AFTER INSERT ON `knowledge_articles` BEGIN
  INSERT INTO knowledge_fts(rowid, title, body, tags) VALUES (new.seq, new.title, new.body, new.tags);
END;
--> statement-breakpoint
CREATE TRIGGER `knowledge_ad` AFTER DELETE ON `knowledge_articles` BEGIN
  INSERT INTO knowledge_fts(knowledge_fts, rowid, title, body, tags) VALUES ('delete', old.seq, old.title, old.body, old.tags);
END;
--> statement-breakpoint
CREATE TRIGGER `knowledge_au` AFTER UPDATE ON `knowledge_articles` BEGIN
  INSERT INTO knowledge_fts(knowledge_fts, rowid, title, body, tags) VALUES ('delete', old.seq, old.title, old.body, old.tags);
  INSERT INTO knowledge_fts(rowid, title, body, tags) VALUES (new.seq, new.title, new.body, new.tags);
END;
