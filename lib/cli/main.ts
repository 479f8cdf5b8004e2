#!/usr/bin/env node
import { createRequire } from 'node:module';
import { Command } from 'commander';
import { registerBench } from './bench/command.js';
import { registerPacketdrill } from './packetdrill/command.js';

const require = createRequire(import.meta.url);
const { version } = require('../../../package.json') as { version: string };

const program = new Command();
program.name('utcp').description('A userspace TCP/IP stack for Node.js').version(version);
registerPacketdrill(program);
registerBench(program);

await program.parseAsync(process.argv);
