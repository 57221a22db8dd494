// Test builds only: the real background plus a driver (tests/addon).
import './main.js';
import { startDriver } from './test-driver.js';
import { startGameDriver } from './game-test-driver.js';
import { startKeysDriver } from './keys-test-driver.js';

void startDriver();
void startGameDriver();
void startKeysDriver();
