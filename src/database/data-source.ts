import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { readDatabaseConfig } from '../config/database.config';
import { buildTypeOrmOptions } from './typeorm-options';

// The CLI runs without Nest's ConfigModule: read .env the same way (existing variables win).
if (existsSync('.env')) process.loadEnvFile('.env');

/** For the TypeORM CLI (`npm run migration:run`); the app builds its own from the same options. */
export default new DataSource(buildTypeOrmOptions(readDatabaseConfig()));
