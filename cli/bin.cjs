#!/usr/bin/env node
// The `creditflow` bin: loads the TypeScript CLI through tsx and runs it.
'use strict';

require('tsx/cjs/api').register();
require('./main.ts').main(process.argv.slice(2));
