// dns2's Packet module alone, by the path tsconfig.json's "paths" gives it (src/dns/wire.ts says why).
declare module "dns2/packet" {
  import { Packet } from "dns2";
  export default Packet;
}
