export { z } from '../engine/zod';
