// Lint for the window's code: typescript-eslint and eslint-plugin-svelte recommended rules.
// The generated bindings are never linted: they are regenerated, not edited.
import js from "@eslint/js";
import { defineConfig } from "eslint/config";
import svelte from "eslint-plugin-svelte";
import globals from "globals";
import ts from "typescript-eslint";
import svelteConfig from "./svelte.config.js";

export default defineConfig(
  {
    ignores: [
      "dist/",
      "node_modules/",
      "test-results/",
      ".vitest-attachments/",
      "src/lib/bindings.ts",
    ],
  },
  js.configs.recommended,
  ts.configs.recommended,
  svelte.configs.recommended,
  {
    languageOptions: { globals: { ...globals.browser } },
    rules: {
      // Nothing in the window logs: IPC arguments carry tokens and keys.
      "no-console": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["**/*.svelte", "**/*.svelte.ts"],
    languageOptions: {
      parserOptions: {
        projectService: true,
        extraFileExtensions: [".svelte"],
        parser: ts.parser,
        svelteConfig,
      },
    },
  },
  {
    files: ["vite.config.ts", "eslint.config.js", "svelte.config.js"],
    languageOptions: { globals: { ...globals.node } },
  },
);
