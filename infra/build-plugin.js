'use strict';

/**
 * Local Serverless (osls) plugin:
 *
 * - checks each function's environment with the functions' own config reader
 *   (scripts/check-config.ts), so a stage whose functions would refuse to start never packages;
 * - builds `.build/` with scripts/build.ts before the framework zips it (`sls package`,
 *   `sls deploy`, `sls deploy function`), for exactly the handlers serverless.yml names;
 * - refuses to deploy a package-only stage (`custom.packageOnlyStages`, e.g. `ci`), whose API
 *   keys are the non-secret placeholders that let CI package without AWS.
 *
 * CommonJS because osls loads plugins with require(). The build runs as its own process, exactly
 * as `npm run build` does: loading esbuild through tsx inside the framework's process breaks
 * esbuild's lookup of its own binary.
 */

const { execFile } = require('node:child_process');
const { promisify } = require('node:util');

const HANDLER = /^\.build\/([a-z0-9][a-z0-9-]*)\.handler$/;

class CloudliteBuildPlugin {
  constructor(serverless, _options, { log } = {}) {
    this.serverless = serverless;
    this.log = log;
    this.hooks = {
      'initialize': () => this.refusePackageOnlyDeploy(),
      'before:package:createDeploymentArtifacts': () => this.checkAndBuild(),
      'before:deploy:function:packageFunction': () => this.checkAndBuild(),
    };
  }

  refusePackageOnlyDeploy() {
    const command = this.serverless.processedInput.commands[0];
    if (command !== 'deploy') return;
    const stage = this.serverless.getProvider('aws').getStage();
    const packageOnly = (this.serverless.service.custom && this.serverless.service.custom.packageOnlyStages) || [];
    if (packageOnly.includes(stage)) {
      throw new this.serverless.classes.Error(
        `stage "${stage}" is for offline packaging only: its API keys are placeholders from serverless.yml params, not SSM. Deploy another stage.`,
        'CLOUDLITE_PACKAGE_ONLY_STAGE',
      );
    }
  }

  async checkAndBuild() {
    await this.checkConfig();
    await this.build();
  }

  /** Each function's environment (provider's, then its own), as its cold start will read it. */
  async checkConfig() {
    const service = this.serverless.service;
    const environments = {};
    for (const [name, definition] of Object.entries(service.functions || {})) {
      const merged = { ...(service.provider.environment || {}), ...(definition.environment || {}) };
      // A Ref or GetAtt is resolved by CloudFormation at deploy time: a name stands in for it.
      environments[name] = Object.fromEntries(Object.entries(merged).map(([variable, value]) => [variable, typeof value === 'object' && value !== null ? 'resolved-at-deploy' : String(value)]));
    }
    try {
      await promisify(execFile)(process.execPath, [require.resolve('tsx/cli'), 'scripts/check-config.ts', JSON.stringify(environments)], { cwd: this.serverless.serviceDir });
    } catch (error) {
      const detail = (error.stderr || '').trim() || error.message;
      throw new this.serverless.classes.Error(`the functions of this stage would refuse to start:\n${detail}`, 'CLOUDLITE_BAD_CONFIG');
    }
  }

  async build() {
    const handlers = this.handlerNames();
    const serviceDir = this.serverless.serviceDir;
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [require.resolve('tsx/cli'), 'scripts/build.ts', ...handlers], {
        cwd: serviceDir,
        maxBuffer: 16 * 1024 * 1024,
      });
      const lines = stdout.trim().split('\n');
      for (const line of lines.slice(0, -1)) this.log?.info(line);
      this.log?.notice(lines[lines.length - 1]);
    } catch (error) {
      // Framework errors print as a message without a stack: the build's own message says it all.
      const detail = (error.stderr || '').trim() || error.message;
      throw new this.serverless.classes.Error(`build failed: ${detail}`, 'CLOUDLITE_BUILD_FAILED');
    }
  }

  /** `.build/sql.handler` -> `sql`; any other handler form is a configuration mistake. */
  handlerNames() {
    const functions = this.serverless.service.functions || {};
    const names = new Set();
    for (const [functionName, definition] of Object.entries(functions)) {
      const match = HANDLER.exec(definition.handler || '');
      if (!match) {
        throw new this.serverless.classes.Error(
          `function "${functionName}": handler must look like .build/<handler-file>.handler (got "${definition.handler}")`,
          'CLOUDLITE_BAD_HANDLER',
        );
      }
      names.add(match[1]);
    }
    return [...names];
  }
}

module.exports = CloudliteBuildPlugin;
