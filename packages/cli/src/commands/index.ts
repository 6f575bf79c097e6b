export { addBrokerStartCommand } from "./broker-start.js";
