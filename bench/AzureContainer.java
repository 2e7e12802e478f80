///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
// The versions of lib/store/azure/AzureStore.java, whose comments say why these three.
//DEPS io.netty:netty-bom:4.2.18.Final@pom
//DEPS com.azure:azure-storage-blob:12.37.2
//DEPS org.slf4j:slf4j-nop:1.7.36

import com.azure.storage.blob.BlobServiceClientBuilder;
import com.azure.storage.common.StorageSharedKeyCredential;

/**
 * Makes a container, unless it exists, so that bench/run can upload to a fresh azurite:
 * {@code AzureContainer.java SERVICE_URL NAME}, signed with AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY.
 */
class AzureContainer {
    public static void main(String... args) {
        if (args.length != 2) {
            System.err.println("usage: AzureContainer.java SERVICE_URL NAME");
            System.exit(2);
        }
        var credential = new StorageSharedKeyCredential(System.getenv("AZURE_STORAGE_ACCOUNT"), System.getenv("AZURE_STORAGE_KEY"));
        new BlobServiceClientBuilder().endpoint(args[0]).credential(credential).buildClient()
                .getBlobContainerClient(args[1]).createIfNotExists();
    }
}
