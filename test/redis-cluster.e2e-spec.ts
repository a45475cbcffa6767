import { type RedisCluster, startRedisCluster } from './support/redis-topology';
import { describeTopology } from './support/topology-scenarios';

describeTopology('Cluster', async () => {
  const cluster: RedisCluster = await startRedisCluster(3);
  return {
    env: { REDIS_MODE: 'cluster', REDIS_URL: cluster.url },
    masterOf: (key) => cluster.masterFor(key),
    servedBy: async (key, port) => (await cluster.masterFor(key)) === port,
    killMasterOf: async (key) => {
      const port = await cluster.masterFor(key);
      await cluster.nodes.find((node) => node.port === port)!.stop();
      return port;
    },
    stop: () => cluster.stop(),
  };
});
