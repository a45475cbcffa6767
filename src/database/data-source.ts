import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { readDatabaseConfig } from '../config/database.config';
import { buildTypeOrmOptions } from './typeorm-options';

/** For the TypeORM CLI (`npm run migration:run`); the app builds its own from the same options. */
export default new DataSource(buildTypeOrmOptions(readDatabaseConfig()));
