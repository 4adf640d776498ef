import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { loadExperiment } from '../../src/experiment/index.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/experiments/${name}`, import.meta.url));

describe('deployment.connectorOverrides', () => {
  it('carries only the fields written into the experiment', () => {
    const { experiment } = loadExperiment(fixture('overrides.yaml'));
    expect(experiment.deployment.connectorOverrides).toEqual({ tp: { prefillWider: 'crash' }, handshake: { timeoutS: null } });
  });

  it('rejects a value the profiles do not know, naming the field', () => {
    expect(() => loadExperiment(fixture('overrides.yaml'), { set: ['deployment.connectorOverrides.tp.prefillWider=explode'] })).toThrow(
      /connectorOverrides\.tp\.prefillWider/,
    );
  });
});
