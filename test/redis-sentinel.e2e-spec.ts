import { type SentinelSet, startSentinelSet } from './support/redis-topology';
import { describeTopology } from './support/topology-scenarios';

describeTopology('Sentinel', async () => {
  const set: SentinelSet = await startSentinelSet();
  return {
    env: {
      REDIS_MODE: 'sentinel',
      REDIS_URL: set.url,
      REDIS_SENTINEL_MASTER: set.masterName,
    },
    masterOf: () => set.currentMasterPort(),
    servedBy: () => Promise.resolve(true),
    killMasterOf: async () => {
      const port = await set.currentMasterPort();
      await (port === set.master.port ? set.master : set.replica).stop();
      return port;
    },
    stop: () => set.stop(),
  };
});
