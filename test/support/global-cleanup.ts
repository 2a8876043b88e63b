/**
 * Preload for `bun test` (bunfig.toml [test] preload): an afterAll registered here runs once,
 * after every test file, and removes whatever the e2e harness still holds.
 */
import { afterAll } from "bun:test";
import { cleanupAll } from "./processes.ts";

afterAll(cleanupAll);
