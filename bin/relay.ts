#!/usr/bin/env -S node --disable-warning=ExperimentalWarning
// The `relay` command; everything lives in src/cli.
import { main } from '../src/cli/index.ts';

process.exitCode = await main(process.argv.slice(2));
